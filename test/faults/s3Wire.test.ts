// S3 faults on the wire (DESIGN §5: "S3 5xx, resets, timeouts → retry with backoff"): a proxy in
// front of the real S3 resets connections, answers 503 SlowDown, answers slowly or cuts bodies short,
// and import, encryption (on a worker process of the test's own, its S3 endpoint through the proxy)
// and export staging (the agent's staging code, its S3 client through the proxy) each finish, every
// failed try an event; an outage longer than the old budget is waited out; a fault that never stops fails
// the step, with the reason, once the budget is spent.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { devStack } from '../../dev/config';
import { makeSampleImage, type SampleImage } from '../../dev/sampleImage';
import { createS3Client } from '../../activities/s3/client';
import { localRunner } from '../../activities/export/commandRunner';
import { stageArtifact } from '../../activities/export/staging';
import { rootfsArtifact } from '../../lib/manifest';
import { encryptImage } from '../../workflows/encryptImage';
import { imageLifecycle } from '../../workflows/imageLifecycle';
import { importImage } from '../../workflows/importImage';
import { attemptRowsOf } from '../helpers/history';
import { objectStore, seedImage } from '../helpers/images';
import { startS3Proxy, type S3Proxy, type WireFault } from '../helpers/s3Proxy';
import { connectClient, uniqueId } from '../helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from '../helpers/workerProcess';

const isGet = (req: { method?: string }) => req.method === 'GET';
const isPut = (req: { method?: string }) => req.method === 'PUT';

const reset: WireFault = { kind: 'reset' };
const slowDown: WireFault = { kind: 'slowDown' };
const slow: WireFault = { kind: 'slow', delayMs: 4000 };
const truncate: WireFault = { kind: 'truncate' };
const quickRetry = { budgetMinutes: 1, maxIntervalSeconds: 2 };

let client: Client;
let proxy: S3Proxy;
let worker: WorkerProcess;
let sample: SampleImage;
let dir: string;
const taskQueue = uniqueId('s3-wire');

beforeAll(async () => {
  client = await connectClient();
  proxy = await startS3Proxy(devStack.s3.endpoint, { host: `${devStack.net}.100` });
  worker = await startWorkerProcess(taskQueue, { S3_ENDPOINT: proxy.endpoint, WORKER_HOST_ID: uniqueId('s3-wire-host') });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3-wire-'));
  sample = await makeSampleImage(dir, { payloadMiB: 2, label: uniqueId('s3-wire') });
});
afterEach(() => proxy.clear());
afterAll(async () => {
  await worker?.kill();
  await proxy?.close();
  await client?.connection.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const md5 = (file: string) => createHash('md5').update(fs.readFileSync(file)).digest('hex');
/** The failed tries of a workflow's own activities, as imagectl history shows them. */
const failedTries = async (workflowId: string) => (await attemptRowsOf(client, workflowId)).filter((row) => row.outcome !== 'completed');

describe('S3 faults that stop: each step finishes, every failed try an event', () => {
  const importThrough = async (faults: WireFault[], matches: (req: { method?: string }) => boolean) => {
    proxy.inject(faults, { matches });
    const workflowId = uniqueId('wire-import');
    const result = await client.workflow.execute(importImage, {
      taskQueue,
      workflowId,
      args: [{ name: 'wire-import', rootfs: { file: sample.rootfs }, kernel: { file: sample.kernel }, retry: quickRetry }],
    });
    expect(proxy.failuresInjected()).toBeGreaterThanOrEqual(faults.length);
    const rootfs = rootfsArtifact(JSON.parse(await objectStore.getText(result.manifest.path)))!;
    expect(rootfs.md5).toBe(md5(sample.rootfs));
    expect(rootfs.link.etag).toBe((await objectStore.head(rootfs.link.path))!.etag);
    return failedTries(workflowId);
  };

  it('import, its uploads reset, throttled (503 SlowDown) and answered slowly', async () => {
    const failed = await importThrough([reset, slowDown, slow], isPut);
    expect(failed.length).toBeGreaterThanOrEqual(2);
  });

  it('import, its manifest read back cut short', async () => {
    const failed = await importThrough([truncate], isGet);
    expect(failed.length).toBeGreaterThanOrEqual(1);
  });

  it('encryption, its reads of the rootfs reset, throttled, slow and cut short', async () => {
    const image = await seedImage({ rootfs: sample.rootfs });
    proxy.inject([reset, slowDown, slow, truncate], { matches: isGet });
    const workflowId = uniqueId('wire-encrypt');
    const result = await client.workflow.execute(encryptImage, { taskQueue, workflowId, args: [{ imageId: image.imageId, sampleSectors: 16, retry: quickRetry }] });
    expect(result.verification).toBeDefined();
    expect(proxy.failuresInjected()).toBeGreaterThanOrEqual(4);
    expect((await failedTries(workflowId)).length).toBeGreaterThanOrEqual(3);
  });

  it.each([
    ['reset', reset],
    ['503 SlowDown', slowDown],
    ['cut short', truncate],
  ])('export staging, its download %s: the try fails as retryable, the next stages the verified file', async (_name, fault) => {
    const image = await seedImage({ rootfs: sample.rootfs });
    const artifact = rootfsArtifact(image.manifest)!;
    const s3 = createS3Client({ ...devStack.s3, endpoint: proxy.endpoint });
    const settings = { s3, runner: localRunner(), cacheDir: path.join(dir, uniqueId('cache')) };
    const request = { linkPath: artifact.link.path, linkEtag: artifact.link.etag!, md5: artifact.md5! };
    proxy.inject(fault, { count: 1, matches: isGet });
    const error = await stageArtifact(settings, request).then(
      () => undefined,
      (failure: { nonRetryable?: boolean }) => failure,
    );
    expect(error).toBeDefined();
    expect(error!.nonRetryable ?? false).toBe(false);
    const staged = await stageArtifact(settings, request);
    expect(md5(staged.path)).toBe(artifact.md5);
  });

  it('export staging, its download answered slowly: it waits and stages the verified file', async () => {
    const image = await seedImage({ rootfs: sample.rootfs });
    const artifact = rootfsArtifact(image.manifest)!;
    const s3 = createS3Client({ ...devStack.s3, endpoint: proxy.endpoint });
    proxy.inject(slow, { count: 1, matches: isGet });
    const staged = await stageArtifact({ s3, runner: localRunner(), cacheDir: path.join(dir, uniqueId('cache')) }, { linkPath: artifact.link.path, linkEtag: artifact.link.etag!, md5: artifact.md5! });
    expect(proxy.failuresInjected()).toBeGreaterThanOrEqual(1);
    expect(md5(staged.path)).toBe(artifact.md5);
  });
});

it('an S3 that stops answering: the try fails as retryable once the connection has been idle for the client\'s timeout', async () => {
  const image = await seedImage({ rootfs: sample.rootfs });
  const artifact = rootfsArtifact(image.manifest)!;
  const s3 = createS3Client({ ...devStack.s3, endpoint: proxy.endpoint, idleTimeoutMs: 2000 });
  proxy.inject({ kind: 'stall' }, { count: 1 });
  const error = await stageArtifact({ s3, runner: localRunner(), cacheDir: path.join(dir, uniqueId('cache')) }, { linkPath: artifact.link.path, linkEtag: artifact.link.etag!, md5: artifact.md5! }).catch((failure: Error & { nonRetryable?: boolean }) => failure);
  expect(error).toMatchObject({ name: 'TimeoutError', message: expect.stringMatching(/timed out after 2000 ms of inactivity/) });
  expect((error as { nonRetryable?: boolean }).nonRetryable ?? false).toBe(false);
});

it('an S3 outage longer than the old budget (5 tries, about 15 s): the lifecycle waits and completes', async () => {
  proxy.inject(slowDown);
  const workflowId = uniqueId('wire-outage');
  const handle = await client.workflow.start(imageLifecycle, { taskQueue, workflowId, args: [{ name: 'wire-outage', import: { rootfs: { file: sample.rootfs } }, retry: quickRetry }] });
  await new Promise((resolve) => setTimeout(resolve, 20_000));
  proxy.clear();
  const summary = await handle.result();
  expect(rootfsArtifact(JSON.parse(await objectStore.getText(summary.manifest.path)))!.md5).toBe(md5(sample.rootfs));
  expect((await failedTries(`${workflowId}.import`)).length).toBeGreaterThan(5);
});

it('an S3 that keeps resetting connections fails the import past its budget, naming the reason', async () => {
  proxy.inject(reset, { matches: isPut });
  const failure = await client.workflow
    .execute(importImage, { taskQueue, workflowId: uniqueId('wire-import-down'), args: [{ name: 'wire-down', rootfs: { file: sample.rootfs }, partSizeMiB: 5, retry: { budgetMinutes: 0.1, maxIntervalSeconds: 1 } }] })
    .catch((error: WorkflowFailedError) => error);
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  // A network error keeps the SDK's own type; the message says what happened and how long it was retried.
  expect((failure as WorkflowFailedError).cause!.message).toMatch(/^upload rootfs: .*ECONNRESET.*\(gave up after \d+ attempts in \d+ s\)$/);
});
