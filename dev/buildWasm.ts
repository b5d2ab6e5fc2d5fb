// Assembles the WebAssembly text sources into the .wasm files committed beside them (wabt, with SIMD).
// Usage: npm run build:wasm   (test/luks/xtsMasks.test.ts fails while a .wasm lags its source)
import { readFile, writeFile } from 'node:fs/promises';
import wabtModule from 'wabt';

export const WASM_SOURCES = [new URL('../activities/luks/xtsMasks.wat', import.meta.url)];

export async function assemble(source: URL): Promise<Uint8Array> {
  const wabt = await wabtModule();
  const module = wabt.parseWat(source.pathname, await readFile(source, 'utf8'), { simd: true });
  try {
    module.validate();
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const source of WASM_SOURCES) {
    const target = new URL(source.href.replace(/\.wat$/, '.wasm'));
    const binary = await assemble(source);
    await writeFile(target, binary);
    console.log(`${target.pathname}: ${binary.length} bytes`);
  }
}
