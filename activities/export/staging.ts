// Copies an artifact from S3 into the iSCSI server's local cache, verified, before anything exports it.
// One streaming read computes the whole-file MD5 and the S3 ETag (multipart: MD5 of the part MD5s, with
// part boundaries taken from S3 itself); the file is written under a temporary name and renamed only when
// both match the manifest, so a partial or corrupt file never carries the final name (LIO and tgtd fix a
// LUN's size at creation).
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FailureType, permanentFailure, transientFailure } from '../../lib/failures';
import { lunIdentity } from '../../lib/lunIdentity';
import { parseS3Url, stripQuotes } from '../../lib/manifest';
import { describeObjectLayout, type ObjectLayout } from '../s3/digestObject';
import { createEtagDigest } from '../s3/etag';

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
  const object = await describeObjectLayout(settings.s3, bucket, key);
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

async function download(settings: StagingSettings, object: { bucket: string; key: string } & ObjectLayout, file: string) {
  const response = await settings.s3.send(new GetObjectCommand({ Bucket: object.bucket, Key: object.key }), { abortSignal: settings.signal });
  const digest = createEtagDigest(object);
  let bytesDone = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      digest.update(chunk);
      bytesDone += chunk.length;
      settings.onProgress?.({ bytesDone, bytesTotal: object.size });
      callback(null, chunk);
    },
  });
  await pipeline(response.Body as Readable, hashing, createWriteStream(file, { mode: 0o600 }), { signal: settings.signal });
  if (bytesDone !== object.size) throw transientFailure(FailureType.StagedFileCorrupt, `s3://${object.bucket}/${object.key}: got ${bytesDone} of ${object.size} bytes`);
  return digest.digest();
}

async function md5OfFile(file: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
