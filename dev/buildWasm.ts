// Assembles the WebAssembly text sources into the .wasm files committed beside them (wabt, with SIMD).
// A source is a .wat file or, where the text is repetitive enough to be generated, the module that
// generates it. Usage: npm run build:wasm   (test/wasmBuild.test.ts fails while a .wasm lags its source)
import { readFile, writeFile } from 'node:fs/promises';
import wabtModule from 'wabt';
import { md5BlocksWat } from '../activities/s3/md5Blocks.wat';

export interface WasmSource {
  /** The committed binary. */
  wasm: URL;
  text: () => Promise<string>;
}

const watFile = (path: string): WasmSource => {
  const source = new URL(path, import.meta.url);
  return { wasm: new URL(source.href.replace(/\.wat$/, '.wasm')), text: () => readFile(source, 'utf8') };
};

export const WASM_SOURCES: WasmSource[] = [
  watFile('../activities/luks/xtsMasks.wat'),
  { wasm: new URL('../activities/s3/md5Blocks.wasm', import.meta.url), text: async () => md5BlocksWat() },
];

export async function assemble(source: WasmSource): Promise<Uint8Array> {
  const wabt = await wabtModule();
  const module = wabt.parseWat(source.wasm.pathname.replace(/\.wasm$/, '.wat'), await source.text(), { simd: true });
  try {
    module.validate();
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const source of WASM_SOURCES) {
    const binary = await assemble(source);
    await writeFile(source.wasm, binary);
    console.log(`${source.wasm.pathname}: ${binary.length} bytes`);
  }
}
