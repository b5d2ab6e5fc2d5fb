// Uploads to each of the dev stack's S3 servers, through a proxy that counts the body bytes sent:
// ETags predicted from one read, resume after a killed attempt (bytes sent again measured), abort,
// corruption detection and bad input.
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { ActivityCancellationDetails } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3ImportActivities, type UploadArtifactInput } from '../../activities/s3/activities';
import { createS3Client } from '../../activities/s3/client';
import { pendingUploadsOfKey } from '../../activities/s3/multipart';
import type { UploadProgress, UploadResult } from '../../activities/s3/upload';
import { devStack } from '../../dev/config';
import { s3Servers } from '../helpers/s3Servers';
import { startS3Proxy, type S3Proxy } from '../helpers/s3Proxy';
import { uniqueId } from '../helpers/temporal';
import { MiB, expectedEtag, failureOf, makeFile, scratchDir } from './support';

const bucket = 'boot-images';
const partSize = 5 * MiB;

describe.each(s3Servers)('uploadArtifact on $backend', (server) => {
  let proxy: S3Proxy;
  let s3: ReturnType<typeof createS3Client>;
  let activities: ReturnType<typeof createS3ImportActivities>;
  beforeAll(async () => {
    // Upload bodies go at 20 MiB/s, so an attempt can be stopped while parts are on the wire.
    proxy = await startS3Proxy(server.settings.endpoint, { uploadBytesPerSecond: 20 * MiB });
    s3 = createS3Client({ ...server.settings, endpoint: proxy.endpoint });
    activities = createS3ImportActivities(s3, { partsInFlight: 2, partSizeMiB: 5 });
  });
  afterAll(() => proxy.close());

  const upload = (env: MockActivityEnvironment, input: UploadArtifactInput): Promise<UploadResult> => env.run(activities.uploadArtifact, input);

  /** Runs an attempt and stops it like a killed worker once `parts` parts are done; returns its last heartbeat. */
  async function killedAttempt(file: string, key: string, parts: number): Promise<UploadProgress> {
    const env = new MockActivityEnvironment();
    let last: UploadProgress | undefined;
    env.on('heartbeat', (progress: UploadProgress) => {
      last = progress;
      if (progress.completedParts.length >= parts) env.cancel('WORKER_SHUTDOWN', new ActivityCancellationDetails({ workerShutdown: true }));
    });
    await expect(upload(env, { file, bucket, key })).rejects.toThrow();
    return last!;
  }

  it('uploads multipart with md5 and ETag computed in the same read, equal to what S3 reports', async () => {
    const { file, md5 } = makeFile('multi.bin', 23 * MiB);
    const key = uniqueId('s3-test/multi');
    const heartbeats: UploadProgress[] = [];
    const env = new MockActivityEnvironment();
    env.on('heartbeat', (progress: UploadProgress) => heartbeats.push(progress));
    const result = await upload(env, { file, bucket, key });
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(result).toMatchObject({ bucket, key, md5, etag: expectedEtag(file, partSize), size: 23 * MiB, partSize, parts: 5, bytesSent: 23 * MiB });
    expect(result.etag).toMatch(/^[0-9a-f]{32}-5$/);
    expect(head.ETag).toBe(`"${result.etag}"`);
    expect(heartbeats.at(-1)).toMatchObject({ bytesDone: 23 * MiB, bytesTotal: 23 * MiB, completedParts: expect.arrayContaining([{ PartNumber: 5, ETag: expect.any(String), Size: 3 * MiB }]) });
    expect(JSON.stringify(heartbeats)).not.toContain(devStack.s3.secretAccessKey);
  });

  it('uses a single PUT (ETag = md5) for a file of one part', async () => {
    const { file, md5 } = makeFile('single.bin', partSize);
    const result = await upload(new MockActivityEnvironment(), { file, bucket, key: uniqueId('s3-test/single') });
    expect(result).toMatchObject({ md5, etag: md5, parts: 1 });
  });

  it('resumes from the heartbeat details of a killed attempt, sending again less than two parts', async () => {
    const { file } = makeFile('resume.bin', 40 * MiB);
    const key = uniqueId('s3-test/resume');
    const before = proxy.uploadedBytes();
    const last = await killedAttempt(file, key, 3);
    expect(await pendingUploadsOfKey(s3, bucket, key)).toHaveLength(1); // kept for the next attempt

    const next = new MockActivityEnvironment({ heartbeatDetails: last });
    const result = await upload(next, { file, bucket, key });
    const sentAgain = proxy.uploadedBytes() - before - 40 * MiB;
    console.log(`resume: ${result.resumedParts} of 8 parts found in S3, ${(sentAgain / MiB).toFixed(2)} MiB sent again (parts of 5 MiB, 2 in flight)`);
    expect(result.resumedParts).toBeGreaterThanOrEqual(3);
    expect(result.bytesSent).toBe(40 * MiB - result.resumedParts * partSize);
    expect(sentAgain).toBeLessThan(2 * partSize);
    expect(result.etag).toBe(expectedEtag(file, partSize));
    expect(await pendingUploadsOfKey(s3, bucket, key)).toEqual([]);
  });

  it('resumes the unfinished upload of the key when no heartbeat of the lost attempt arrived', async () => {
    const { file } = makeFile('no-heartbeat.bin', 20 * MiB);
    const key = uniqueId('s3-test/no-heartbeat');
    await killedAttempt(file, key, 2);
    const result = await upload(new MockActivityEnvironment(), { file, bucket, key });
    expect(result.resumedParts).toBeGreaterThanOrEqual(2);
    expect(result.etag).toBe(expectedEtag(file, partSize));
  });

  it('sends a recorded part again when the local file no longer matches it', async () => {
    const { file } = makeFile('changed.bin', 20 * MiB);
    const key = uniqueId('s3-test/changed');
    const last = await killedAttempt(file, key, 2);
    const handle = fs.openSync(file, 'r+');
    fs.writeSync(handle, Buffer.from('changed'), 0, 7, 100); // inside part 1, already in S3
    fs.closeSync(handle);
    const result = await upload(new MockActivityEnvironment(), { file, bucket, key, resume: last });
    expect(result.resumedParts).toBe(last.completedParts.filter((p) => p.PartNumber !== 1).length);
    expect(result.etag).toBe(expectedEtag(file, partSize));
  });

  it('aborts the multipart upload when the activity is cancelled, leaving none behind', async () => {
    const { file } = makeFile('cancel.bin', 30 * MiB);
    const key = uniqueId('s3-test/cancel');
    const env = new MockActivityEnvironment();
    env.on('heartbeat', (progress: UploadProgress) => progress.completedParts.length >= 1 && env.cancel());
    await expect(upload(env, { file, bucket, key })).rejects.toThrow();
    expect(await pendingUploadsOfKey(s3, bucket, key)).toEqual([]);
  });

  it('abortUpload removes what a given-up upload left', async () => {
    const { file } = makeFile('give-up.bin', 20 * MiB);
    const key = uniqueId('s3-test/give-up');
    await killedAttempt(file, key, 1);
    const env = new MockActivityEnvironment();
    expect(await env.run(activities.listOrphanUploads, { bucket, prefix: key })).toHaveLength(1);
    expect(await env.run(activities.abortUpload, { bucket, key })).toEqual({ aborted: 1 });
    expect(await env.run(activities.listOrphanUploads, { bucket, prefix: key })).toEqual([]);
  });

  it('reports ArtifactCorrupt, retryable, with both ETags when S3 reports another ETag', async () => {
    const { file } = makeFile('misreported.bin', 12 * MiB);
    proxy.misreportEtag(1);
    const error = await failureOf(upload(new MockActivityEnvironment(), { file, bucket, key: uniqueId('s3-test/misreported') }));
    expect(error).toMatchObject({ type: 'ArtifactCorrupt', nonRetryable: false });
    expect(error.message).toContain('0123456789abcdef0123456789abcdef');
    expect(error.message).toContain(expectedEtag(file, partSize));
  });

  it('reports ArtifactCorrupt when a part arrives damaged (S3 checks its Content-MD5)', async () => {
    const damaging = createS3Client(server.settings);
    damaging.middlewareStack.add(
      (next, context) => (args) => {
        const request = args.request as { body?: unknown };
        if (context.commandName === 'UploadPartCommand' && Buffer.isBuffer(request.body)) {
          const damaged = Buffer.from(request.body);
          damaged[0] ^= 0xff;
          request.body = damaged;
        }
        return next(args);
      },
      { step: 'build' },
    );
    const { file } = makeFile('damaged.bin', 12 * MiB);
    const key = uniqueId('s3-test/damaged');
    const error = await failureOf(new MockActivityEnvironment().run(createS3ImportActivities(damaging, { partSizeMiB: 5 }).uploadArtifact, { file, bucket, key }));
    expect(error).toMatchObject({ type: 'ArtifactCorrupt', nonRetryable: false });
    expect(error.message).toContain('BadDigest');
    await createS3ImportActivities(s3).abortUpload({ bucket, key });
  });

  it('refuses bad input as InvalidInput before writing anything', async () => {
    const { file } = makeFile('good.bin', 1024);
    const key = uniqueId('s3-test/bad-input');
    const cases: [UploadArtifactInput, RegExp][] = [
      [{ file: path.join(scratchDir, 'absent.bin'), bucket, key }, /absent\.bin: no such file/],
      [{ file: scratchDir, bucket, key }, /is not a regular file/],
      [{ file, bucket: 'Not_A_Bucket', key }, /not an s3:\/\/bucket\/key URL/],
      [{ file, bucket, key: '' }, /not an s3:\/\/bucket\/key URL/],
      [{ file, bucket, key, partSizeMiB: 1 }, /at least 5 MiB/],
    ];
    for (const [input, message] of cases) {
      const error = await failureOf(upload(new MockActivityEnvironment(), input));
      expect(error).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
      expect(error.message).toMatch(message);
    }
    const env = new MockActivityEnvironment();
    expect(await env.run(activities.headObject, { url: `s3://${bucket}/${key}` })).toBeNull();
    expect(await env.run(activities.listOrphanUploads, { bucket, prefix: key })).toEqual([]);
  });
});
