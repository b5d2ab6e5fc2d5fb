// A key store in a local directory (0700) of key files (0600): the simplest store, and the reference for
// the Vault and Kubernetes ones (README.md).
import { randomUUID } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { FailureType, permanentFailure } from '../../lib/failures';
import { generateKey, KEY_LENGTH, keyFingerprint, type KeyRef, type KeyStore } from './keyStore';
import { ensurePrivateDirectory } from './secretFile';

const keyIdPattern = /^luks-[0-9a-f-]{36}$/;

export function createFileKeyStore(dir: string): KeyStore {
  let ready: Promise<void> | undefined;
  const prepared = () => (ready ??= ensurePrivateDirectory(dir));
  const keyFile = (keyId: string) => path.join(dir, `${keyId}.key`);

  return {
    async createKey(): Promise<KeyRef> {
      await prepared();
      const keyId = `luks-${randomUUID()}`;
      const key = generateKey();
      try {
        const handle = await open(keyFile(keyId), 'wx', 0o600);
        try {
          await handle.writeFile(key);
          await handle.sync();
        } finally {
          await handle.close();
        }
        return { keyId, fingerprint: keyFingerprint(key) };
      } finally {
        key.fill(0);
      }
    },

    async getKey(keyId: string): Promise<Buffer> {
      await prepared();
      if (!keyIdPattern.test(keyId)) throw permanentFailure(FailureType.InvalidInput, `key id ${JSON.stringify(keyId)} is not of the form luks-<uuid>`);
      const info = await stat(keyFile(keyId)).catch(() => null);
      if (!info?.isFile()) throw permanentFailure(FailureType.InvalidInput, `key ${keyId} not found in the key store`);
      if (info.mode & 0o077) throw permanentFailure(FailureType.InvalidInput, `key ${keyId} is readable by group or others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`);
      const key = await readFile(keyFile(keyId));
      if (key.length !== KEY_LENGTH) throw permanentFailure(FailureType.InvalidInput, `key ${keyId} has ${key.length} bytes, expected ${KEY_LENGTH}`);
      return key;
    },
  };
}
