// importImage end to end: real Temporal, real S3, the CSM simulator, the stack's workers (and, for
// S3 faults and crashes, a worker process of the test's own behind a proxy).
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devStack } from '../dev/config';
import { makeSampleImage, type SampleImage } from '../dev/sampleImage';
import { requestMetadataKey } from '../activities/ims/activities';
import { pendingUploadsOfKey as pendingUploads } from '../activities/s3/multipart';
import { MediaType, rootfsArtifact } from '../lib/manifest';
import { importImage } from '../workflows/importImage';
import { attemptRowsOf } from './helpers/history';
import { ims, objectStore, s3 } from './helpers/images';
import { startS3Proxy } from './helpers/s3Proxy';
import { setSimFaults } from './helpers/simFaults';
import { connectClient, uniqueId } from './helpers/temporal';
import { startWorkerProcess } from './helpers/workerProcess';

const md5 = (file: string) => createHash('md5').update(fs.readFileSync(file)).digest('hex');

let client: Client;
let sample: SampleImage;
beforeAll(async () => {
  client = await connectClient();
  sample = await makeSampleImage(fs.mkdtempSync(path.join(os.tmpdir(), 'import-')), { payloadMiB: 12, label: uniqueId('import') });
});
afterAll(() => client.connection.close());

const files = () => ({ rootfs: { file: sample.rootfs }, kernel: { file: sample.kernel }, initrd: { file: sample.initrd } });

describe('importImage through the dev stack', () => {
  it('uploads, writes a manifest with the fields SBPS needs and S3\'s real etags, and links it in IMS', async () => {
    const result = await client.workflow.execute(importImage, {
      taskQueue: devStack.temporal.taskQueue,
      workflowId: uniqueId('import'),
      args: [{ name: 'compute-import', ...files(), partSizeMiB: 5 }],
    });
    const manifest = JSON.parse(await objectStore.getText(result.manifest.path));
    expect(manifest.version).toBe('1.0');
    const rootfs = rootfsArtifact(manifest)!;
    expect(rootfs.link.path).toBe(`s3://boot-images/${result.imageId}/rootfs`);
    expect(rootfs.link.etag).toBe((await objectStore.head(rootfs.link.path))!.etag);
    expect(rootfs.link.etag).toMatch(/^[0-9a-f]{32}-\d+$/);
    expect(rootfs.md5).toBe(md5(sample.rootfs));
    expect(manifest.artifacts.map((a: { type: string; link: { type: string } }) => [a.type, a.link.type])).toEqual([
      [MediaType.rootfs, 's3'],
      [MediaType.kernel, 's3'],
      [MediaType.initrd, 's3'],
    ]);
    const image = await ims.getImage(result.imageId);
    expect(image.link).toEqual({ path: result.manifest.path, etag: (await objectStore.head(result.manifest.path))!.etag, type: 's3' });
  });

  it('adopts the IMS image of an earlier run of the same workflow id instead of creating another', async () => {
    const workflowId = uniqueId('import-adopt');
    const args = [{ name: 'compute-adopt', rootfs: { file: sample.rootfs }, partSizeMiB: 5 }] as const;
    const first = await client.workflow.execute(importImage, { taskQueue: devStack.temporal.taskQueue, workflowId, args: [...args] });
    const second = await client.workflow.execute(importImage, { taskQueue: devStack.temporal.taskQueue, workflowId, args: [...args] });
    expect([first.adopted, second.adopted]).toEqual([false, true]);
    expect(second.imageId).toBe(first.imageId);
    expect((await ims.listImages()).filter((i) => i.metadata?.[requestMetadataKey] === workflowId)).toHaveLength(1);
  });

  it('takes md5 and etag from the data of artifacts already in S3, without uploading them again (seed 002)', async () => {
    const prefix = uniqueId('ncn-artifacts');
    const urls: Record<string, string> = {};
    for (const [kind, file] of Object.entries({ rootfs: sample.rootfs, kernel: sample.kernel, initrd: sample.initrd })) {
      await s3.send(new PutObjectCommand({ Bucket: 'boot-images', Key: `${prefix}/${kind}`, Body: fs.readFileSync(file) }));
      urls[kind] = `s3://boot-images/${prefix}/${kind}`;
    }
    const before = await s3.send(new HeadObjectCommand({ Bucket: 'boot-images', Key: `${prefix}/rootfs` }));
    const result = await client.workflow.execute(importImage, {
      taskQueue: devStack.temporal.taskQueue,
      workflowId: uniqueId('import-s3'),
      args: [{ name: 'ncn-image', rootfs: { s3: urls.rootfs }, kernel: { s3: urls.kernel }, initrd: { s3: urls.initrd } }],
    });
    const after = await s3.send(new HeadObjectCommand({ Bucket: 'boot-images', Key: `${prefix}/rootfs` }));
    expect(after.LastModified).toEqual(before.LastModified);
    expect(await objectStore.head(`s3://boot-images/${result.imageId}/rootfs`)).toBeNull();
    const rootfs = result.artifacts[0];
    expect(rootfs.link).toEqual({ path: urls.rootfs, etag: md5(sample.rootfs), type: 's3' });
    expect(rootfs.md5).toBe(md5(sample.rootfs));
  });

  it('refuses unusable sources with one clear error before writing anything', async () => {
    const workflowId = uniqueId('import-bad');
    const error = await client.workflow
      .execute(importImage, {
        taskQueue: devStack.temporal.taskQueue,
        workflowId,
        args: [{ name: 'bad', rootfs: { file: '/nonexistent/rootfs.squashfs' }, kernel: { s3: 's3://boot-images/no/such/kernel' } }],
      })
      .catch((e) => e);
    expect(error.cause.type).toBe('InvalidInput');
    expect(error.cause.message).toMatch(/rootfs: \/nonexistent\/rootfs.squashfs: no such file; kernel: s3:\/\/boot-images\/no\/such\/kernel: no such object/);
    expect((await ims.listImages()).filter((i) => i.metadata?.[requestMetadataKey] === workflowId)).toEqual([]);

    const malformed = await client.workflow
      .execute(importImage, { taskQueue: devStack.temporal.taskQueue, workflowId: uniqueId('import-bad'), args: [{ name: ' ', rootfs: { s3: 'boot-images/x' } }] })
      .catch((e) => e);
    expect(malformed.cause.type).toBe('InvalidInput');
    expect(malformed.cause.message).toMatch(/name: image name is empty.*rootfs/);
  });

  it('survives injected IMS 503s, each failed attempt recorded in the history', async () => {
    const workflowId = uniqueId('import-ims503');
    await setSimFaults({ failNext: 2, errorStatus: 503, errorPathPrefix: '/apis/ims' });
    try {
      await client.workflow.execute(importImage, { taskQueue: devStack.temporal.taskQueue, workflowId, args: [{ name: 'ims-503', rootfs: { file: sample.rootfs } }] });
    } finally {
      await setSimFaults({ failNext: 0, errorPathPrefix: '/apis/' });
    }
    const rows = await attemptRowsOf(client, workflowId);
    const imsRows = rows.filter((r) => r.label.startsWith('create IMS image record'));
    expect(imsRows.map((r) => [r.attempt, r.outcome, r.errorType ?? null])).toEqual([
      [1, 'failed', 'ServiceUnavailable'],
      [2, 'failed', 'ServiceUnavailable'],
      [3, 'completed', null],
    ]);
  });
});

describe('importImage on a worker of its own behind an S3 proxy', () => {
  it('survives injected S3 503s on upload parts', async () => {
    const proxy = await startS3Proxy(devStack.s3.endpoint);
    const taskQueue = uniqueId('import-s3-503');
    const worker = await startWorkerProcess(taskQueue, { S3_ENDPOINT: proxy.endpoint });
    try {
      proxy.failNext(2, (req) => req.method === 'PUT' && /partNumber=/.test(req.url ?? ''));
      const workflowId = uniqueId('import-s3-503');
      const result = await client.workflow.execute(importImage, { taskQueue, workflowId, args: [{ name: 's3-503', rootfs: { file: sample.rootfs }, partSizeMiB: 5 }] });
      expect(proxy.failuresInjected()).toBe(2);
      expect(result.artifacts[0].link.etag).toBe((await objectStore.head(result.artifacts[0].link.path))!.etag);
      const uploads = (await attemptRowsOf(client, workflowId)).filter((r) => r.label.startsWith('upload rootfs'));
      expect(uploads.at(-1)?.outcome).toBe('completed');
      expect(uploads.slice(0, -1).every((r) => r.outcome === 'failed')).toBe(true);
    } finally {
      await worker.kill();
      await proxy.close();
    }
  });

  it('completes after its worker is killed (SIGKILL) mid-upload, sending again less than two parts', { timeout: 240_000 }, async () => {
    const partSize = 5 * 1024 * 1024;
    const big = path.join(path.dirname(sample.rootfs), 'big.squashfs');
    fs.writeFileSync(big, Buffer.concat([fs.readFileSync(sample.rootfs), Buffer.alloc(48 * 1024 * 1024, 7)]));
    const size = fs.statSync(big).size;
    const proxy = await startS3Proxy(devStack.s3.endpoint, { uploadBytesPerSecond: 8 * 1024 * 1024 });
    const taskQueue = uniqueId('import-kill');
    const workflowId = uniqueId('import-kill');
    const env = { S3_ENDPOINT: proxy.endpoint };
    let worker = await startWorkerProcess(taskQueue, env);
    try {
      const handle = await client.workflow.start(importImage, { taskQueue, workflowId, args: [{ name: 'killed', rootfs: { file: big }, partSizeMiB: 5 }] });
      // Kill once at least three parts are in S3 and the upload is still going.
      for (;;) {
        const pending = (await handle.describe()).raw.pendingActivities ?? [];
        if (pending.some((a) => a.activityType?.name === 'uploadArtifact') && proxy.uploadedBytes() >= 3 * partSize) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await worker.kill('SIGKILL');
      const sentBeforeKill = proxy.uploadedBytes();
      worker = await startWorkerProcess(taskQueue, env);
      const result = await handle.result();
      const sentAgain = proxy.uploadedBytes() - size;
      console.log(`SIGKILL mid-upload: ${(sentBeforeKill / 2 ** 20).toFixed(1)} MiB sent before the kill, ${(sentAgain / 2 ** 20).toFixed(2)} MiB sent again (part size 5 MiB)`);
      expect(sentBeforeKill).toBeLessThan(size);
      expect(sentAgain).toBeLessThan(2 * partSize);
      expect(result.artifacts[0].md5).toBe(md5(big));
      expect(result.artifacts[0].link.etag).toBe((await objectStore.head(result.artifacts[0].link.path))!.etag);
      expect(await pendingUploads(s3, 'boot-images', `${result.imageId}/rootfs`)).toEqual([]);
      const uploads = (await attemptRowsOf(client, workflowId)).filter((r) => r.label.startsWith('upload rootfs'));
      expect(uploads.map((r) => [r.attempt, r.outcome, r.errorType ?? null])).toEqual([
        [1, 'timed-out', 'Timeout'],
        [2, 'completed', null],
      ]);
    } finally {
      await worker.kill();
      await proxy.close();
    }
  });
});
