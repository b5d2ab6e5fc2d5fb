import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble, WASM_SOURCES } from '../dev/buildWasm';

describe('WebAssembly sources', () => {
  for (const source of WASM_SOURCES) {
    it(`${source.wasm.pathname.split('/').pop()} matches its source (npm run build:wasm)`, async () => {
      const committed = readFileSync(source.wasm);
      expect(Buffer.from(await assemble(source)).equals(committed)).toBe(true);
    });
  }
});
