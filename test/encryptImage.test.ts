// encryptImage through the dev stack: the orchestrator worker's host queue stages, encrypts, verifies
// and uploads; the test then checks the container with tools of its own (cryptsetup, qemu-img).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devStack, stackEnvironment } from '../dev/config';
import { makeSampleImage, type SampleImage } from '../dev/sampleImage';
import { MediaType, parseS3Url, structuralProblems, type Manifest } from '../lib/manifest';
import { encryptImage } from '../workflows/encryptImage';
import { objectStore, s3, seedImage } from './helpers/images';
import { connectClient, uniqueId } from './helpers/temporal';
import { attemptRowsOf, keyForms, payloadText } from './helpers/history';
import { startWorkerProcess } from './helpers/workerProcess';

async function waitForPendingActivity(handle: WorkflowHandle, activity: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const pending = (await handle.describe()).raw.pendingActivities ?? [];
    if (pending.some((p) => p.activityType?.name === activity)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${activity} never started`);
}

const env = stackEnvironment();
const keyFile = (keyId: string) => path.join(env.LUKS_KEY_DIR, `${keyId}.key`);

async function download(url: string, file: string) {
  const { bucket, key } = parseS3Url(url);
  const body = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  fs.writeFileSync(file, Buffer.from(await body.Body!.transformToByteArray()));
}

/**
 * cryptsetup's own offline decryption (no device-mapper): it refuses an attached LUKS2 header, so the
 * volume key it unlocks from the real key slot goes into a detached header for a copy of the data area.
 */
async function decryptWithCryptsetup(container: string, key: string, dump: string): Promise<Buffer> {
  const offset = Number(/Data segments:[\s\S]*?offset:\s+(\d+) \[bytes\]/.exec(dump)![1]);
  const [volumeKey, header, data] = ['volume-key', 'header', 'data'].map((name) => `${container}.${name}`);
  await execa('cryptsetup', ['luksDump', '--batch-mode', '--dump-volume-key', '--volume-key-file', volumeKey, '--key-file', key, container]);
  fs.writeFileSync(data, fs.readFileSync(container).subarray(offset));
  await execa('cryptsetup', [
    'luksFormat', '--batch-mode', '--type', 'luks2', '--cipher', 'aes-xts-plain64', '--key-size', '512', '--sector-size', '4096',
    '--volume-key-file', volumeKey, '--key-file', key, '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--header', header, '--offset', '0', data,
  ]);
  await execa('cryptsetup', ['reencrypt', '--batch-mode', '--decrypt', '--force-offline-reencrypt', '--resilience', 'none', '--header', header, '--key-file', key, data]);
  return fs.readFileSync(data);
}

describe('encryptImage (dev stack, cryptsetup + userspace AES-XTS)', () => {
  let client: Client;
  let sample: SampleImage;
  let dir: string;

  beforeAll(async () => {
    client = await connectClient();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encrypt-'));
    sample = await makeSampleImage(dir, { payloadMiB: 3, label: uniqueId('encrypt') });
  });
  afterAll(async () => {
    await client.connection.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = (input: Record<string, unknown>, workflowId = uniqueId('encrypt')) =>
    client.workflow.execute(encryptImage, { taskQueue: devStack.temporal.taskQueue, workflowId, args: [input] });

  it('adds a LUKS2 container of the rootfs to the manifest, one that cryptsetup opens and decrypts to the rootfs with the stored key', async () => {
    const image = await seedImage(sample);
    const workflowId = uniqueId('encrypt');
    const handle = await client.workflow.start(encryptImage, { taskQueue: devStack.temporal.taskQueue, workflowId, args: [{ imageId: image.imageId }] });
    const watch = execa('tsx', ['cli/imagectl.ts', 'watch', workflowId, '--json', '--interval', '0.2'], { env: stackEnvironment(), reject: false });
    const result = await handle.result();

    // imagectl watch showed the verification's step from its heartbeats (its key derivations take seconds).
    const screens = (await watch).stdout.split('\n').filter((line) => line.startsWith('{"status":')).map((line) => JSON.parse(line) as { pending: { activity: string; progress?: object }[] });
    const verifying = screens.flatMap((screen) => screen.pending).filter((p) => p.activity === 'verifyEncryptedFile' && p.progress);
    expect(verifying.length, JSON.stringify(screens)).toBeGreaterThan(0);
    expect(verifying[0].progress).toMatchObject({ unit: 'steps', total: 6, step: expect.any(String) });

    expect(result.encrypted).toBe(true);
    const manifest = JSON.parse(await objectStore.getText(image.manifestPath)) as Manifest;
    expect(structuralProblems(manifest)).toEqual([]);
    expect(manifest.artifacts.map((a) => a.type)).toEqual([...image.manifest.artifacts.map((a) => a.type), MediaType.rootfsLuks]);
    const artifact = manifest.artifacts.find((a) => a.type === MediaType.rootfsLuks)!;
    const { bucket, key } = parseS3Url(artifact.link.path);
    expect(key).toBe(`${parseS3Url(image.manifest.artifacts[0].link.path).key.split('/')[0]}/rootfs.luks`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(artifact.link.etag).toBe(head.ETag!.replaceAll('"', ''));

    const container = path.join(dir, 'rootfs.luks');
    await download(artifact.link.path, container);
    expect(artifact.md5).toBe((await execa('md5sum', [container])).stdout.split(' ')[0]);
    const dump = (await execa('cryptsetup', ['luksDump', container])).stdout;
    expect(dump).toMatch(/^Version:\s+2$/m);
    expect(dump).toMatch(/cipher:\s+aes-xts-plain64/);
    expect(dump).toMatch(/sector:\s+4096 \[bytes\]/);
    expect(dump).toContain(result.artifact.luks.uuid);

    const keyId = result.artifact.luks.keyId;
    const opened = await execa('cryptsetup', ['open', '--test-passphrase', '--key-file', keyFile(keyId), container], { reject: false });
    expect(opened.exitCode).toBe(0);
    const plaintext = await decryptWithCryptsetup(container, keyFile(keyId), dump);
    const rootfs = fs.readFileSync(sample.rootfs);
    expect(plaintext.subarray(0, rootfs.length).equals(rootfs)).toBe(true);
    expect(plaintext.subarray(rootfs.length).every((byte) => byte === 0)).toBe(true);

    // The key never appears in the workflow's history: only its id and fingerprint.
    const history = payloadText(await client.workflow.getHandle(workflowId).fetchHistory());
    expect(history).toContain(keyId);
    for (const form of keyForms(fs.readFileSync(keyFile(keyId)))) expect(history.includes(form), `key found in history as ${form.slice(0, 6)}…`).toBe(false);

    // Nothing of this image is left in the host's scratch space.
    const leftovers = fs.readdirSync(path.join(env.LUKS_WORK_DIR, 'cache', 'encrypted')).filter((f) => f.startsWith(image.imageId));
    expect(leftovers).toEqual([]);

    const again = await run({ imageId: image.imageId });
    expect(again.encrypted).toBe(false);
    expect(again.artifact.link).toEqual(artifact.link);
  });

  it('makes LUKS1 with 512-byte sectors on request, reusing a given key', async () => {
    const first = await run({ imageId: (await seedImage(sample)).imageId });
    const image = await seedImage(sample);
    const result = await run({ imageId: image.imageId, luksVersion: 1, keyId: first.artifact.luks.keyId });
    expect(result.artifact.luks).toMatchObject({ luksVersion: 1, sectorSize: 512, keyId: first.artifact.luks.keyId, fingerprint: first.artifact.luks.fingerprint });
    const container = path.join(dir, 'rootfs1.luks');
    await download(result.artifact.link.path, container);
    expect((await execa('cryptsetup', ['luksDump', container])).stdout).toMatch(/^Version:\s+1$/m);
  });

  it('completes after its worker is killed mid-encryption, with a correct container and no leftovers', async () => {
    const image = await seedImage(sample);
    const hostId = uniqueId('kill-host');
    const taskQueue = uniqueId('encrypt-kill');
    const workerEnv = { WORKER_HOST_ID: hostId };
    const first = await startWorkerProcess(taskQueue, workerEnv);
    const workflowId = uniqueId('encrypt-kill');
    const handle = await client.workflow.start(encryptImage, { taskQueue, workflowId, args: [{ imageId: image.imageId, sampleSectors: 16 }] });
    await waitForPendingActivity(handle, 'encryptFile');
    await first.kill('SIGKILL');
    const second = await startWorkerProcess(taskQueue, workerEnv);
    try {
      const result = await handle.result();
      const attempts = await attemptRowsOf(client, workflowId);
      expect(attempts.filter((row) => row.type === 'encryptFile').map((row) => row.outcome)).toEqual(['timed-out', 'completed']);
      expect(result.verification).toBeDefined();
      const container = path.join(dir, 'killed.luks');
      await download(result.artifact.link.path, container);
      const plaintext = await decryptWithCryptsetup(container, keyFile(result.artifact.luks.keyId), (await execa('cryptsetup', ['luksDump', container])).stdout);
      const rootfs = fs.readFileSync(sample.rootfs);
      expect(plaintext.subarray(0, rootfs.length).equals(rootfs)).toBe(true);
      const leftovers = fs.readdirSync(path.join(env.LUKS_WORK_DIR, 'cache', 'encrypted')).filter((f) => f.startsWith(image.imageId));
      expect(leftovers).toEqual([]);
    } finally {
      await second.kill();
    }
  });

  it('changes nothing when the rootfs in S3 is not what the manifest says', async () => {
    const image = await seedImage(sample, {
      edit: (manifest) => {
        manifest.artifacts[0].md5 = '0123456789abcdef0123456789abcdef';
      },
    });
    const before = await objectStore.getText(image.manifestPath);
    const failure = await run({ imageId: image.imageId }).catch((error: WorkflowFailedError) => error);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause).toMatchObject({ type: 'ManifestInvalid', message: expect.stringMatching(/md5/) });
    expect(await objectStore.getText(image.manifestPath)).toBe(before);
    const { bucket, key } = parseS3Url(image.manifest.artifacts[0].link.path.replace(/rootfs$/, 'rootfs.luks'));
    await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).rejects.toMatchObject({ name: 'NotFound' });
  });

  it('refuses bad input before doing anything', async () => {
    const failure = await run({ imageId: 'x', luksVersion: 1, sectorSize: 4096 }).catch((error: WorkflowFailedError) => error);
    expect((failure as WorkflowFailedError).cause).toMatchObject({ type: 'InvalidInput', message: expect.stringMatching(/sectorSize: LUKS1 supports only 512-byte sectors/) });
  });
});
