// Activities that share local files between steps (stage the rootfs, encrypt it, verify, upload), so
// they run on one host: the orchestrator worker also polls a queue named after its host, and the
// encryptImage workflow asks for that queue first (Temporal's worker-specific task queue pattern).
import os from 'node:os';
import path from 'node:path';
import { mkdir, readdir, rm } from 'node:fs/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { parseInput } from '../lib/parseInput';
import { encryptionHostTaskQueue } from '../lib/taskQueues';
import { StageInput } from './export/inputs';
import { localRunner } from './export/commandRunner';
import { stageArtifact } from './export/staging';
import { createLuksActivities } from './luks/activities';
import { createFileKeyStore } from './keys/fileKeyStore';
import { createS3ImportActivities } from './s3/activities';
import { withActivityProgress } from './support/progress';
import { readSettings, type Environment } from '../settings/load';

export const encryptionHostId = (env: Environment = process.env): string => readSettings(['worker'], env).worker.WORKER_HOST_ID ?? os.hostname();

/** Where the LUKS key store and the encryption scratch space live on an orchestrator worker host. */
export function luksSettingsFromEnv(env: Environment = process.env) {
  const { luks } = readSettings(['luks'], env);
  const workDir = luks.LUKS_WORK_DIR;
  return {
    keyStore: createFileKeyStore(luks.LUKS_KEY_DIR),
    workDir: path.join(workDir, 'secrets'),
    cacheDir: path.join(workDir, 'cache'),
  };
}

const LocalFiles = z.object({ paths: z.array(z.string().refine((p) => path.isAbsolute(p), 'must be an absolute path')) });

export function createEncryptionHostActivities(s3: S3Client, env: Environment = process.env) {
  const { keyStore, workDir, cacheDir } = luksSettingsFromEnv(env);
  const { uploadArtifact } = createS3ImportActivities(s3);
  const outputDir = path.join(cacheDir, 'encrypted');
  return {
    ...createLuksActivities({ keyStore, workDir }),
    uploadArtifact,

    /** A verified local copy of the rootfs (cached by its identity), and where its container goes. */
    async stageForEncryption(raw: StageInput) {
      const staged = await withActivityProgress((progress) => stageArtifact({ s3, runner: localRunner(), cacheDir, ...progress }, parseInput(StageInput, raw, 'staging input')));
      await mkdir(outputDir, { recursive: true });
      return { ...staged, outputDir };
    },

    /**
     * Removes local files this host made: the staged plaintext, the containers, and the
     * `<container>.partial-*` files an attempt killed mid-encryption left behind.
     */
    async removeLocalFiles(raw: z.input<typeof LocalFiles>): Promise<{ removed: number }> {
      const { paths } = parseInput(LocalFiles, raw, 'file list');
      const owned = paths.map((p) => path.resolve(p)).filter((p) => p.startsWith(`${path.resolve(cacheDir)}${path.sep}`));
      const partials = await Promise.all(
        owned.map(async (file) => (await readdir(path.dirname(file)).catch(() => [])).filter((name) => name.startsWith(`${path.basename(file)}.partial-`)).map((name) => path.join(path.dirname(file), name))),
      );
      const doomed = [...owned, ...partials.flat()];
      await Promise.all(doomed.map((p) => rm(p, { force: true })));
      return { removed: doomed.length };
    },
  };
}

export type EncryptionHostActivities = ReturnType<typeof createEncryptionHostActivities>;

/** Runs on any orchestrator worker: the queue of the host that answers, for the rest of the work. */
export const createEncryptionHostLookup = (env: Environment = process.env) => ({
  async claimEncryptionHost(): Promise<{ host: string; taskQueue: string }> {
    const host = encryptionHostId(env);
    return { host, taskQueue: encryptionHostTaskQueue(host) };
  },
});
