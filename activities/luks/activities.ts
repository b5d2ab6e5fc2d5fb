// LUKS activities: encrypt a rootfs image into a LUKS container file, and prove a container right.
// Keys stay in the key store: inputs, results, heartbeats and errors carry only {keyId, fingerprint}.
import { keyFingerprint, type KeyRef, type KeyStore } from '../keys/keyStore';
import { privateDirectory } from '../keys/secretFile';
import { encryptToContainer, type ContainerResult } from './container';
import type { PbkdfOverride } from './cryptsetup';
import { userspaceDataAreaWriter, type DataAreaWriter } from './dataArea';
import { progressHeartbeats } from '../support/heartbeats';
import { withActivityProgress, currentContext } from '../support/progress';
import { parseInput } from '../../lib/parseInput';
import { EncryptFileInput, VerifyEncryptedFileInput } from './inputs';
import { verifyContainer, type VerifyProgress, type VerifyReport } from './verify';

export interface LuksActivitySettings {
  keyStore: KeyStore;
  /** Scratch space private to this worker (made 0700): key files while a tool runs, verification copies. */
  workDir: string;
  /** Default: the userspace encryptor on every core. */
  writeDataArea?: DataAreaWriter;
  pbkdf?: PbkdfOverride;
}

export function createLuksActivities({ keyStore, workDir, writeDataArea = userspaceDataAreaWriter(), pbkdf }: LuksActivitySettings) {
  const secretsDir = privateDirectory(workDir);

  return {
    /** A new key, as its own step: a retried encryptFile then reuses it instead of minting another. */
    async createLuksKey(): Promise<KeyRef> {
      return keyStore.createKey();
    },

    /** Encrypts `source` into a new LUKS container at `destination`, heartbeating {bytesDone, bytesTotal}. */
    async encryptFile(raw: EncryptFileInput): Promise<ContainerResult> {
      const input = parseInput(EncryptFileInput, raw);
      const key = input.keyId ? { keyId: input.keyId, fingerprint: await fingerprintOf(keyStore, input.keyId) } : await keyStore.createKey();
      const kdf = input.pbkdf2Iterations ? { pbkdf2Iterations: input.pbkdf2Iterations } : pbkdf;
      const settings = { keyStore, secretsDir: await secretsDir(), writeDataArea, pbkdf: kdf };
      return withActivityProgress((progress) => encryptToContainer(settings, { ...input, key, ...progress }));
    },

    /** Heartbeats {step, stepsDone, stepsTotal} as each check starts, and every few seconds during one. */
    async verifyEncryptedFile(raw: VerifyEncryptedFileInput): Promise<VerifyReport> {
      const context = currentContext();
      const heartbeats = context && progressHeartbeats<VerifyProgress>(context);
      try {
        return await verifyContainer({ keyStore, secretsDir: await secretsDir() }, { ...parseInput(VerifyEncryptedFileInput, raw), onProgress: heartbeats?.report });
      } finally {
        heartbeats?.stop();
      }
    },
  };
}

export type LuksActivities = ReturnType<typeof createLuksActivities>;

async function fingerprintOf(keyStore: KeyStore, keyId: string): Promise<string> {
  const key = await keyStore.getKey(keyId);
  try {
    return keyFingerprint(key);
  } finally {
    key.fill(0);
  }
}
