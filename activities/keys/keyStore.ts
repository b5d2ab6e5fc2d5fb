// The LUKS key store: workflows carry a KeyRef only; activities resolve the key bytes from a store.
import { createHash, randomBytes } from 'node:crypto';
import { withSecretFile } from './secretFile';

/** All a workflow ever sees of a key. */
export interface KeyRef {
  keyId: string;
  /** sha256 of the key bytes, hex: lets an operator match a key without revealing it. */
  fingerprint: string;
}

export interface KeyStore {
  /** Generates and stores a new random key. */
  createKey(): Promise<KeyRef>;
  /** The key bytes: for use inside activities only, never returned from one. Unknown id → InvalidInput. */
  getKey(keyId: string): Promise<Buffer>;
}

/**
 * A key is 512 random bits written as base64url text (86 bytes, no newline): cryptsetup reads a key file
 * whole as the passphrase, and qemu's LUKS driver (our independent LUKS1 check) accepts only UTF-8
 * secrets. Vault and Kubernetes secrets hold the same text.
 */
export const generateKey = (): Buffer => Buffer.from(randomBytes(64).toString('base64url'));
export const KEY_LENGTH = 86;

export const keyFingerprint = (key: Buffer): string => createHash('sha256').update(key).digest('hex');

/**
 * Materializes the key as a 0600 file in `dir` for a command-line tool (`cryptsetup --key-file`,
 * qemu `--object secret,file=`), and overwrites and removes it when `use` settles.
 */
export async function withKeyFile<T>(store: KeyStore, keyId: string, dir: string, use: (keyFile: string) => Promise<T>): Promise<T> {
  const key = await store.getKey(keyId);
  try {
    return await withSecretFile(key, dir, use);
  } finally {
    key.fill(0);
  }
}
