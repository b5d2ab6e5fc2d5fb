import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble, WASM_SOURCES } from '../../dev/buildWasm';

describe('WebAssembly sources', () => {
  for (const source of WASM_SOURCES) {
    it(`${source.pathname.split('/').pop()} matches the committed .wasm (npm run build:wasm)`, async () => {
      const committed = readFileSync(new URL(source.href.replace(/\.wat$/, '.wasm')));
      expect(Buffer.from(await assemble(source)).equals(committed)).toBe(true);
    });
  }
});
