// Copies an artifact from S3 into the iSCSI server's local cache, verified, before anything exports it.
// One streaming read computes the whole-file MD5 and the S3 ETag (multipart: MD5 of the part MD5s, with
// part boundaries taken from S3 itself); the file is written under a temporary name and renamed only when
// both match the manifest, so a partial or corrupt file never carries the final name (LIO and tgtd fix a
// LUN's size at creation).
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FailureType, permanentFailure, transientFailure } from '../../lib/failures';
import { lunIdentity } from '../../lib/lunIdentity';
import { parseS3Url, stripQuotes } from '../../lib/manifest';

export interface StageRequest {
  /** The manifest's entry for the artifact: where it is, and what it must hash to. */
  linkPath: string;
  linkEtag: string;
  md5: string;
}

export interface StageResult {
  path: string;
  sizeBytes: number;
  md5: string;
  etag: string;
  /** False when a verified copy was already in the cache. */
  downloaded: boolean;
}

export interface Progress {
  bytesDone: number;
  bytesTotal: number;
}

export interface StagingSettings {
  s3: S3Client;
  cacheDir: string;
  /** Called as bytes arrive (the activity turns it into heartbeats). */
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
}

/** Where an artifact is cached: named by its identity, so a new etag never reuses an old file. */
export const stagedPath = (cacheDir: string, request: Pick<StageRequest, 'linkPath' | 'linkEtag'>): string =>
  path.join(cacheDir, `${lunIdentity(request).serial}.img`);

export async function stageArtifact(settings: StagingSettings, request: StageRequest): Promise<StageResult> {
  const { bucket, key } = parseS3Url(request.linkPath);
  const object = await describeObject(settings.s3, bucket, key);
  if (object.etag !== stripQuotes(request.linkEtag)) {
    throw permanentFailure(FailureType.ManifestEtagFault, `${request.linkPath}: manifest etag ${request.linkEtag} but S3 has ${object.etag}`, {
      path: request.linkPath,
      kind: 'etag-stale',
      recorded: request.linkEtag,
      actual: object.etag,
    });
  }
  const target = stagedPath(settings.cacheDir, request);
  const expected = { md5: request.md5.toLowerCase(), etag: object.etag };

  const cached = await stat(target).catch(() => null);
  if (cached?.size === object.size && (await md5OfFile(target)) === expected.md5) {
    return { path: target, sizeBytes: object.size, md5: expected.md5, etag: object.etag, downloaded: false };
  }

  await mkdir(settings.cacheDir, { recursive: true });
  const temporary = `${target}.partial-${randomBytes(4).toString('hex')}`;
  try {
    const digests = await download(settings, { bucket, key, ...object }, temporary);
    if (digests.md5 !== expected.md5 || digests.etag !== expected.etag) {
      throw transientFailure(
        FailureType.StagedFileCorrupt,
        `${request.linkPath} staged on this server hashes to md5 ${digests.md5} / etag ${digests.etag}; the manifest says md5 ${expected.md5} / etag ${expected.etag}`,
      );
    }
    await chmod(temporary, 0o444);
    await rename(temporary, target);
    return { path: target, sizeBytes: object.size, md5: digests.md5, etag: digests.etag, downloaded: true };
  } finally {
    await rm(temporary, { force: true });
  }
}

interface ObjectLayout {
  etag: string;
  size: number;
  multipart: boolean;
  /** One entry per part of a multipart upload; a single entry for a plain PUT. */
  partSizes: number[];
}

async function describeObject(s3: S3Client, bucket: string, key: string): Promise<ObjectLayout> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const etag = stripQuotes(head.ETag ?? '');
  const size = head.ContentLength ?? 0;
  const parts = Number(/-(\d+)$/.exec(etag)?.[1] ?? 0);
  if (!parts) return { etag, size, multipart: false, partSizes: [size] };
  // Parts need not be equal: ask S3 for each one's length rather than guess the uploader's part size.
  const partSizes: number[] = [];
  for (let partNumber = 1; partNumber <= parts; partNumber++) {
    const part = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, PartNumber: partNumber }));
    partSizes.push(part.ContentLength ?? 0);
  }
  if (partSizes.reduce((a, b) => a + b, 0) !== size) throw new Error(`s3://${bucket}/${key}: part lengths do not add up to the object size`);
  return { etag, size, multipart: true, partSizes };
}

async function download(settings: StagingSettings, object: { bucket: string; key: string } & ObjectLayout, file: string) {
  const response = await settings.s3.send(new GetObjectCommand({ Bucket: object.bucket, Key: object.key }), { abortSignal: settings.signal });
  const whole = createHash('md5');
  const etag = etagCalculator(object.partSizes, object.multipart);
  let bytesDone = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      whole.update(chunk);
      etag.update(chunk);
      bytesDone += chunk.length;
      settings.onProgress?.({ bytesDone, bytesTotal: object.size });
      callback(null, chunk);
    },
  });
  await pipeline(response.Body as Readable, hashing, createWriteStream(file, { mode: 0o600 }), { signal: settings.signal });
  if (bytesDone !== object.size) throw transientFailure(FailureType.StagedFileCorrupt, `s3://${object.bucket}/${object.key}: got ${bytesDone} of ${object.size} bytes`);
  return { md5: whole.digest('hex'), etag: etag.digest() };
}

/** The ETag S3 gives an object uploaded with these part sizes: md5 of the body, or md5(part md5s)-N. */
function etagCalculator(partSizes: number[], multipart: boolean) {
  const partDigests: Buffer[] = [];
  let part: Hash = createHash('md5');
  let partIndex = 0;
  let leftInPart = partSizes[0];
  return {
    update(chunk: Buffer) {
      let offset = 0;
      while (offset < chunk.length) {
        const take = Math.min(leftInPart, chunk.length - offset);
        part.update(chunk.subarray(offset, offset + take));
        offset += take;
        leftInPart -= take;
        if (leftInPart === 0 && partIndex < partSizes.length - 1) {
          partDigests.push(part.digest());
          part = createHash('md5');
          leftInPart = partSizes[++partIndex];
        }
      }
    },
    digest(): string {
      if (!multipart) return part.digest('hex');
      const all = [...partDigests, part.digest()];
      return `${createHash('md5').update(Buffer.concat(all)).digest('hex')}-${all.length}`;
    },
  };
}

async function md5OfFile(file: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
