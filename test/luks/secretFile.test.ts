// What a killed process leaves in a private scratch directory (secret files, scratch directories named
// for its PID) is removed, wiped, by the next process that prepares the directory; a live process's is kept.
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeScratchDir, preparePrivateDirectory, withSecretFile } from '../../activities/keys/secretFile';

describe('private scratch directories', () => {
  it('removes the secret files and scratch dirs of dead processes only', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'secret-scratch-'));
    const dead = (await execa('sh', ['-c', 'echo $$'])).stdout.trim();
    fs.writeFileSync(path.join(dir, `.secret-${dead}-0011223344556677`), 'a key');
    fs.mkdirSync(path.join(dir, `verify-${dead}-AbCdEf`));
    fs.writeFileSync(path.join(dir, `verify-${dead}-AbCdEf`, `.secret-${dead}-8899aabbccddeeff`), 'another key');
    fs.writeFileSync(path.join(dir, 'notes'), 'not ours to remove');
    const mine = await makeScratchDir(dir, 'verify');
    const removed = await withSecretFile(Buffer.from('live key'), dir, async (file) => {
      const names = await preparePrivateDirectory(dir);
      expect(fs.existsSync(file)).toBe(true);
      return names;
    });
    expect(removed.sort()).toEqual([`.secret-${dead}-0011223344556677`, `verify-${dead}-AbCdEf`]);
    expect(fs.readdirSync(dir).sort()).toEqual(['notes', path.basename(mine)]);
    expect(path.basename(mine)).toMatch(new RegExp(`^verify-${process.pid}-`));
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
