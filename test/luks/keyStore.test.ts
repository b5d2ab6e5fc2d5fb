import { existsSync, readdirSync, readFileSync, statSync, chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFileKeyStore } from '../../activities/keys/fileKeyStore';
import { keyFingerprint, withKeyFile } from '../../activities/keys/keyStore';
import { scratchDir } from './fixtures';

describe('file key store', () => {
  it('keeps keys 0600 in a 0700 directory and returns only id and fingerprint', async () => {
    const dir = path.join(scratchDir('keys'), 'store');
    const store = createFileKeyStore(dir);
    const ref = await store.createKey();
    expect(Object.keys(ref).sort()).toEqual(['fingerprint', 'keyId']);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const file = path.join(dir, `${ref.keyId}.key`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const key = await store.getKey(ref.keyId);
    expect(key.toString()).toMatch(/^[A-Za-z0-9_-]{86}$/);
    expect(readFileSync(file).equals(key)).toBe(true);
    expect(ref.fingerprint).toBe(keyFingerprint(key));
    expect(ref.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('tightens an existing shared directory', async () => {
    const dir = scratchDir('keys-shared');
    chmodSync(dir, 0o755);
    await createFileKeyStore(dir).createKey();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('materializes a key file 0600 only while it is used', async () => {
    const store = createFileKeyStore(path.join(scratchDir('keys'), 'store'));
    const tmp = scratchDir('keyfile');
    const { keyId } = await store.createKey();
    let seen = '';
    await withKeyFile(store, keyId, tmp, async (file) => {
      seen = file;
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file).equals(await store.getKey(keyId))).toBe(true);
    });
    expect(existsSync(seen)).toBe(false);
    await expect(withKeyFile(store, keyId, tmp, async () => { throw new Error('tool failed'); })).rejects.toThrow('tool failed');
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('answers InvalidInput for unknown, malformed and exposed keys', async () => {
    const dir = path.join(scratchDir('keys'), 'store');
    mkdirSync(dir, { recursive: true });
    const store = createFileKeyStore(dir);
    await expect(store.getKey('luks-00000000-0000-0000-0000-000000000000')).rejects.toMatchObject({ type: 'InvalidInput', nonRetryable: true, message: expect.stringMatching(/not found/) });
    await expect(store.getKey('../etc/passwd')).rejects.toMatchObject({ type: 'InvalidInput' });
    const { keyId } = await store.createKey();
    chmodSync(path.join(dir, `${keyId}.key`), 0o644);
    await expect(store.getKey(keyId)).rejects.toMatchObject({ type: 'InvalidInput', message: expect.stringMatching(/chmod 600/) });
  });
});
