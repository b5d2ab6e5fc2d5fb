import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { devStack } from '../../dev/config';
import { createS3Client } from '../../activities/s3/client';
import { stageArtifact, stagedPath, type Progress } from '../../activities/export/staging';
import { fileSecretResolver } from '../../activities/export/secrets';
import { redact, localRunner } from '../../activities/export/commandRunner';

// Against the dev stack's real S3 server.
describe('stageArtifact', () => {
  const s3 = createS3Client(devStack.s3);
  const bucket = 'boot-images';
  const prefix = `export-test/${randomUUID()}`;
  const single = randomBytes(300_000 + 17);
  // Unequal parts on purpose: the ETag must follow S3's part boundaries, not a guessed part size.
  const parts = [randomBytes(6 * 1024 * 1024), randomBytes(5 * 1024 * 1024), randomBytes(1234)];
  const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
  let singleEtag: string;
  let multiEtag: string;
  let cacheDir: string;

  beforeAll(async () => {
    cacheDir = await mkdtemp(path.join(tmpdir(), 'staging-'));
    singleEtag = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/single`, Body: single }))).ETag!.replaceAll('"', '');
    const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: `${prefix}/multi` }));
    const uploaded = [];
    for (const [i, body] of parts.entries()) {
      const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: `${prefix}/multi`, UploadId: upload.UploadId, PartNumber: i + 1, Body: body }));
      uploaded.push({ ETag: part.ETag, PartNumber: i + 1 });
    }
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: `${prefix}/multi`, UploadId: upload.UploadId, MultipartUpload: { Parts: uploaded } }));
    multiEtag = done.ETag!.replaceAll('"', '');
  });

  afterAll(async () => {
    for (const key of ['single', 'multi']) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}` }));
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('downloads a single-PUT object once, verified, read-only, reporting progress', async () => {
    const request = { linkPath: `s3://${bucket}/${prefix}/single`, linkEtag: singleEtag, md5: md5(single) };
    const progress: Progress[] = [];
    const first = await stageArtifact({ s3, cacheDir, onProgress: (p) => progress.push(p) }, request);
    expect(first).toEqual({ path: stagedPath(cacheDir, request), sizeBytes: single.length, md5: md5(single), etag: singleEtag, downloaded: true });
    expect(await readFile(first.path)).toEqual(single);
    expect((await stat(first.path)).mode & 0o777).toBe(0o444);
    expect(progress.at(-1)).toEqual({ bytesDone: single.length, bytesTotal: single.length });

    const second = await stageArtifact({ s3, cacheDir }, request);
    expect(second.downloaded).toBe(false);
  });

  it('computes a multipart ETag with unequal parts in the same read', async () => {
    const whole = Buffer.concat(parts);
    expect(multiEtag).toMatch(/-3$/);
    const result = await stageArtifact({ s3, cacheDir }, { linkPath: `s3://${bucket}/${prefix}/multi`, linkEtag: multiEtag, md5: md5(whole) });
    expect(result).toMatchObject({ etag: multiEtag, md5: md5(whole), sizeBytes: whole.length, downloaded: true });
  });

  it('an md5 mismatch is StagedFileCorrupt and leaves no file behind', async () => {
    const request = { linkPath: `s3://${bucket}/${prefix}/multi`, linkEtag: multiEtag, md5: md5(Buffer.from('something else')) };
    const dir = await mkdtemp(path.join(tmpdir(), 'staging-bad-'));
    await expect(stageArtifact({ s3, cacheDir: dir }, request)).rejects.toMatchObject({ type: 'StagedFileCorrupt', nonRetryable: false });
    expect(await readdir(dir)).toEqual([]);
    await rm(dir, { recursive: true });
  });

  it('a manifest etag that S3 does not have is a ManifestEtagFault (the repair path), before any download', async () => {
    const request = { linkPath: `s3://${bucket}/${prefix}/single`, linkEtag: 'ffffffffffffffffffffffffffffffff', md5: md5(single) };
    await expect(stageArtifact({ s3, cacheDir }, request)).rejects.toMatchObject({ type: 'ManifestEtagFault', details: [{ kind: 'etag-stale', actual: singleEtag }] });
  });
});

describe('secrets stay secret', () => {
  it('file secret resolver: reads 0600 files, refuses loose modes, bad refs and missing files without echoing values', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'secrets-'));
    const { writeFile, mkdir } = await import('node:fs/promises');
    await mkdir(path.join(dir, 'chap'));
    await writeFile(path.join(dir, 'chap', 'ok'), 's3cr3t-value\n', { mode: 0o600 });
    await writeFile(path.join(dir, 'chap', 'loose'), 'loose-value', { mode: 0o644 });
    const secrets = fileSecretResolver(dir);
    expect(await secrets.resolve('chap/ok')).toBe('s3cr3t-value');
    await expect(secrets.resolve('chap/loose')).rejects.toThrow(/readable by group or others/);
    await expect(secrets.resolve('chap/loose')).rejects.not.toThrow(/loose-value/);
    await expect(secrets.resolve('../etc/passwd')).rejects.toThrow(/not a relative name/);
    await expect(secrets.resolve('chap/missing')).rejects.toThrow(/not found/);
    await rm(dir, { recursive: true });
  });

  it('command failures are reported with secrets scrubbed from argv and stderr', async () => {
    expect(redact('password=abc123 and abc123', ['abc123'])).toBe('password=*** and ***');
    const failure = localRunner().run(['sh', '-c', 'echo "bad password abc123" >&2; exit 3', 'abc123'], { secrets: ['abc123'] });
    await expect(failure).rejects.toThrow(/exit 3/);
    await expect(failure).rejects.not.toThrow(/abc123/);
  });
});
