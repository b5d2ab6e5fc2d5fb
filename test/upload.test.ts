// Uploads against the real S3 server, through a counting proxy: ETags predicted from one read,
// resume after a lost attempt with what was sent again measured, abort, and corruption detection.
import { MockActivityEnvironment } from '@temporalio/testing';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devStack } from '../dev/config';
import { createS3Client } from '../activities/s3/client';
import { createS3ImportActivities } from '../activities/s3/importActivities';
import { partSizesFor } from '../activities/s3/objectDigest';
import { pendingUploads, uploadFile, type UploadProgress } from '../activities/s3/resumableUpload';
import { startS3Proxy, type S3Proxy } from './helpers/s3Proxy';
import { uniqueId } from './helpers/temporal';

const MiB = 1024 * 1024;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upload-'));

function makeFile(name: string, size: number): { file: string; md5: string } {
  const file = path.join(dir, name);
  const data = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  fs.writeFileSync(file, data);
  return { file, md5: createHash('md5').update(data).digest('hex') };
}

/** The AWS multipart ETag computed independently of the code under test. */
function awsEtag(file: string, partSize: number): string {
  const data = fs.readFileSync(file);
  if (data.length <= partSize) return createHash('md5').update(data).digest('hex');
  const digests = partSizesFor(data.length, partSize).map((_, i) => createHash('md5').update(data.subarray(i * partSize, (i + 1) * partSize)).digest());
  return `${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${digests.length}`;
}

describe('resumable upload to the real S3 server', () => {
  let proxy: S3Proxy;
  let s3: ReturnType<typeof createS3Client>;
  beforeAll(async () => {
    proxy = await startS3Proxy(devStack.s3.endpoint);
    s3 = createS3Client({ ...devStack.s3, endpoint: proxy.endpoint });
  });
  afterAll(() => proxy.close());

  it('computes md5 and the multipart ETag in the same read, equal to what S3 reports', async () => {
    const { file, md5 } = makeFile('multi.bin', 23 * MiB + 123);
    const result = await uploadFile(s3, { file, bucket: 'boot-images', key: uniqueId('upload/multi'), partSize: 5 * MiB, partsInFlight: 3 });
    expect(result).toMatchObject({ md5, etag: awsEtag(file, 5 * MiB), parts: 5, size: 23 * MiB + 123 });
    expect(result.etag).toMatch(/^[0-9a-f]{32}-5$/);
  });

  it('uses a single PUT (ETag = md5) for a file of one part or less', async () => {
    const { file, md5 } = makeFile('small.bin', 3 * MiB);
    const result = await uploadFile(s3, { file, bucket: 'boot-images', key: uniqueId('upload/small'), partSize: 5 * MiB, partsInFlight: 3 });
    expect(result).toMatchObject({ md5, etag: md5, parts: 1 });
  });

  it('resumes a lost attempt from its last progress, sending again less than two parts', async () => {
    const { file } = makeFile('resume.bin', 40 * MiB);
    const key = uniqueId('upload/resume');
    const partSize = 5 * MiB;
    const before = proxy.uploadedBytes();
    let lastProgress: UploadProgress | undefined;
    const killed = new AbortController();
    const firstAttempt = uploadFile(s3, {
      file,
      bucket: 'boot-images',
      key,
      partSize,
      partsInFlight: 2,
      signal: killed.signal,
      onProgress: (progress) => {
        lastProgress = progress;
        if ((progress.completedParts?.length ?? 0) >= 3) killed.abort();
      },
    });
    await expect(firstAttempt).rejects.toThrow();
    expect(lastProgress?.completedParts?.length).toBeGreaterThanOrEqual(3);

    const second = await uploadFile(s3, { file, bucket: 'boot-images', key, partSize, partsInFlight: 2, resume: lastProgress });
    const sentInAll = proxy.uploadedBytes() - before;
    const sentAgain = sentInAll - 40 * MiB;
    console.log(`resume: ${second.resumedParts} parts resumed, ${(sentAgain / MiB).toFixed(2)} MiB sent again (part size 5 MiB)`);
    expect(second.resumedParts).toBeGreaterThanOrEqual(3);
    expect(second.etag).toBe(awsEtag(file, partSize));
    expect(sentAgain).toBeLessThan(2 * partSize);
    expect(await pendingUploads(s3, 'boot-images', key)).toEqual([]);
  });

  it('starts over when the recorded upload no longer exists in S3', async () => {
    const { file } = makeFile('gone.bin', 12 * MiB);
    const result = await uploadFile(s3, {
      file,
      bucket: 'boot-images',
      key: uniqueId('upload/gone'),
      partSize: 5 * MiB,
      partsInFlight: 2,
      resume: { bytesDone: 5 * MiB, bytesTotal: 12 * MiB, uploadId: 'no-such-upload', partSize: 5 * MiB, completedParts: [{ PartNumber: 1, ETag: 'x', Size: 5 * MiB }] },
    });
    expect(result.resumedParts).toBe(0);
    expect(result.etag).toBe(awsEtag(file, 5 * MiB));
  });

  it('reports ArtifactCorrupt when S3 reports another ETag than the data sent', async () => {
    const { file } = makeFile('corrupt.bin', 2 * MiB);
    proxy.misreportEtag(1);
    const error = await uploadFile(s3, { file, bucket: 'boot-images', key: uniqueId('upload/corrupt'), partSize: 5 * MiB, partsInFlight: 2 }).catch((e) => e);
    expect(error.type).toBe('ArtifactCorrupt');
    expect(error.nonRetryable).toBe(false);
    expect(error.message).toContain('0123456789abcdef0123456789abcdef');
  });

  it('aborts the multipart upload when the activity is cancelled, leaving nothing behind', async () => {
    const { file } = makeFile('cancel.bin', 30 * MiB);
    const key = uniqueId('upload/cancel');
    const env = new MockActivityEnvironment();
    env.on('heartbeat', (progress: UploadProgress) => {
      if ((progress.completedParts?.length ?? 0) >= 1) env.cancel();
    });
    const activities = createS3ImportActivities(s3, { partsInFlight: 2 });
    await expect(env.run(activities.uploadArtifact, { file, bucket: 'boot-images', key, partSizeMiB: 5 })).rejects.toThrow();
    expect(await pendingUploads(s3, 'boot-images', key)).toEqual([]);
  });

  it('refuses a missing file as InvalidInput', async () => {
    const env = new MockActivityEnvironment();
    const error = (await env
      .run(createS3ImportActivities(s3).uploadArtifact, { file: path.join(dir, 'absent'), bucket: 'boot-images', key: uniqueId('upload/absent'), partSizeMiB: 5 })
      .catch((e) => e)) as { type: string; message: string };
    expect(error.type).toBe('InvalidInput');
    expect(error.message).toContain('absent');
  });
});
