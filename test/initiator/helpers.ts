// A test bed for validateInitiators on the dev stack's two tgtd servers: exports made with the tgt driver
// under target names of this run's own (so other tests' targets, ACLs and CHAP are untouched), artifacts
// in the real S3, a CHAP account, a LUKS key store, and a worker running the real activities.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { execa } from 'execa';
import type { Client } from '@temporalio/client';
import { devStack } from '../../dev/config';
import { makeSampleImage } from '../../dev/sampleImage';
import { localRunner } from '../../activities/export/commandRunner';
import type { ExportResult } from '../../activities/export/driver';
import { fileSecretResolver } from '../../activities/export/secrets';
import { createInitiatorActivities } from '../../activities/initiator/activities';
import { createFileKeyStore } from '../../activities/keys/fileKeyStore';
import { createLuksActivities } from '../../activities/luks/activities';
import { createS3ImportActivities } from '../../activities/s3/activities';
import { createTgtDriver } from '../../activities/tgt/driver';
import { lunIdentity } from '../../lib/lunIdentity';
import { readS3Json, s3 } from '../helpers/images';
import { withTestWorker } from '../helpers/testWorker';

const require = createRequire(import.meta.url);
export const workflowsPath = require.resolve('./workflows.ts');
export const nodeIqn = (node: string) => `iqn.2026-11.test.validate:${node}`;
export const iqnPattern = nodeIqn('{node}');

export interface Artifact {
  path: string;
  etag: string;
  file: string;
  size: number;
}

export async function createTestBed() {
  const run = randomUUID().slice(0, 6);
  const dir = await mkdtemp(path.join(tmpdir(), 'validate-'));
  const secretsDir = path.join(dir, 'secrets');
  const keysDir = path.join(dir, 'keys');
  const chap = { user: `validate-${run}`, password: randomBytes(12).toString('base64url') };
  await mkdir(path.join(secretsDir, 'chap'), { recursive: true, mode: 0o700 });
  for (const [name, value] of Object.entries({ user: chap.user, password: chap.password, 'wrong-password': randomBytes(12).toString('base64url') })) {
    await writeFile(path.join(secretsDir, 'chap', name), `${value}\n`, { mode: 0o600 });
  }
  const sample = await makeSampleImage(path.join(dir, 'sample'), { payloadMiB: 1, label: `validate-${run}` });
  const exports: { driver: ReturnType<typeof createTgtDriver>; link: { linkPath: string; linkEtag: string } }[] = [];
  const drivers = new Map<string, ReturnType<typeof createTgtDriver>>();

  /** This run's own server name on one of the dev stack's tgtd; each artifact gets a per-image target there. */
  const server = (index: 0 | 1, suffix = '') => {
    const stack = devStack.iscsiServers[index];
    const name = `vt${run}-${stack.name}${suffix}`;
    const recordFile = path.join(dir, 'records', `${name}.json`);
    if (!drivers.has(name)) drivers.set(name, createTgtDriver({ server: name, controlPort: stack.controlPort, runner: localRunner(), secrets: fileSecretResolver(secretsDir), recordFile }));
    // Reports name a server by its target's last ':' part: keep the server's name there.
    const target = (artifact: Artifact) => ({ iqn: `iqn.2026-11.test.validate.${lunIdentity({ linkPath: artifact.path, linkEtag: artifact.etag }).backstoreName}:${name}`, address: stack.address, port: stack.port });
    return { name, driver: drivers.get(name)!, target };
  };

  const bed = {
    run,
    dir,
    chap,
    sample,
    keyStore: createFileKeyStore(keysDir),
    server,

    async upload(file: string): Promise<Artifact> {
      const key = `validate-${run}/${randomUUID()}/rootfs`;
      const put = await s3.send(new PutObjectCommand({ Bucket: 'boot-images', Key: key, Body: await readFile(file) }));
      const { size } = await stat(file);
      return { path: `s3://boot-images/${key}`, etag: put.ETag!.replaceAll('"', ''), file, size };
    },

    /** Exports `backingFile` (default: the artifact's file) under the artifact's identity, read-only, with CHAP. */
    async exportOn(servers: ReturnType<typeof server>[], artifact: Artifact, options: { nodes: string[]; backingFile?: string; withoutChap?: boolean }): Promise<ExportResult[]> {
      const backingFile = options.backingFile ?? artifact.file;
      await chmod(backingFile, 0o444);
      const sizeBytes = (await stat(backingFile)).size;
      const results: ExportResult[] = [];
      for (const { driver, target } of servers) {
        const link = { linkPath: artifact.path, linkEtag: artifact.etag };
        const { iqn, address, port } = target(artifact);
        exports.push({ driver, link });
        results.push(
          await driver.ensureExport({
            identity: lunIdentity(link),
            placement: { layout: 'per-image', targetIqn: iqn },
            backingFile,
            sizeBytes,
            initiators: options.nodes.map(nodeIqn),
            chap: options.withoutChap ? undefined : { userRef: 'chap/user', secretRef: 'chap/password' },
            portals: [{ address, port }],
          }),
        );
      }
      return results;
    },

    async truncatedCopy(file: string, lessBytes: number): Promise<string> {
      const copy = path.join(dir, `truncated-${randomUUID().slice(0, 6)}`);
      await copyFile(file, copy);
      const { size } = await stat(copy);
      await truncate(copy, size - lessBytes);
      return copy;
    },

    async luksContainer(luksVersion: 1 | 2) {
      const luks = createLuksActivities({ keyStore: bed.keyStore, workDir: path.join(dir, 'luks-work'), pbkdf: { pbkdf2Iterations: 1000 } });
      const destination = path.join(dir, `rootfs.luks${luksVersion}`);
      return { ...(await luks.encryptFile({ source: sample.rootfs, destination, luksVersion })), file: destination };
    },

    /** A worker with the real initiator and S3 activities, on a task queue of its own. */
    worker<T>(body: (context: { client: Client; taskQueue: string }) => Promise<T>): Promise<T> {
      const activities = {
        ...createS3ImportActivities(s3),
        ...createInitiatorActivities({ INITIATOR_SECRETS_DIR: secretsDir, LUKS_KEY_DIR: keysDir, INITIATOR_WORK_DIR: path.join(dir, 'initiator-work') }),
      };
      return withTestWorker({ workflowsPath, activities }, body);
    },

    getJson: readS3Json,

    async cleanUp() {
      for (const { driver, link } of exports.reverse()) await driver.removeExport({ identity: lunIdentity(link) }).catch(() => undefined);
      for (const { controlPort } of devStack.iscsiServers) {
        await execa('tgtadm', ['-C', String(controlPort), '--op', 'delete', '--mode', 'account', '--user', chap.user], { reject: false });
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  return bed;
}

export type TestBed = Awaited<ReturnType<typeof createTestBed>>;
