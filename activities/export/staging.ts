// Copies an artifact from S3 into the iSCSI server's cache, verified, before anything exports it.
// One streaming read computes the whole-file MD5 and the S3 ETag (multipart: MD5 of the part MD5s, with
// part boundaries taken from S3 itself); the file is written under a temporary name and renamed only when
// both match the manifest, so a partial or corrupt file never carries the final name (LIO and tgtd fix a
// LUN's size at creation). Every file operation goes through the command runner, so the cache is on the
// server the target runs on, whether the agent runs there or reaches it over SSH; files are 0600 while
// written and 0400 once verified, in a 0700 directory, whatever the umask on either side.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FailureType, permanentFailure, transientFailure } from '../../lib/failures';
import { lunIdentity } from '../../lib/lunIdentity';
import { parseS3Url, stripQuotes } from '../../lib/manifest';
import { createObjectDigest, describeObjectLayout, partLayoutUnknown, type ObjectLayout } from '../s3/digestObject';
import type { CommandRunner } from './commandRunner';
import { sizeOnServer } from './stagedFile';
import { evictForRoom, partialPathOf, prepareCacheDir, removeFiles, type EvictedFile } from './stagingCache';

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
  /** Cached images removed to make room for this one (none of them exported). */
  evicted: EvictedFile[];
}

export interface Progress {
  bytesDone: number;
  bytesTotal: number;
}

export interface StagingSettings {
  s3: S3Client;
  /** Runs the file operations on the iSCSI server: locally, or over SSH. */
  runner: CommandRunner;
  cacheDir: string;
  /** When set, the cache stays under `maxBytes` by evicting cached images that no export uses. */
  cacheBound?: { maxBytes: number; exportedFiles: () => Promise<string[]> };
  /** Called as bytes are downloaded or re-hashed (the activity turns it into heartbeats). */
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
  const { runner } = settings;
  const target = stagedPath(settings.cacheDir, request);
  const expected = { md5: request.md5.toLowerCase(), etag: object.etag };
  const result = { path: target, sizeBytes: object.size, md5: expected.md5, etag: object.etag };

  await prepareCacheDir(runner, settings.cacheDir);
  const cachedSize = await sizeOnServer(runner, target);
  if (cachedSize === object.size && (await md5OnServer(settings, target, object.size)) === expected.md5) {
    await runner.run(['chmod', '0400', '--', target]);
    await runner.run(['touch', '-c', '--', target]); // its last use, which eviction goes by
    return { ...result, downloaded: false, evicted: [] };
  }
  if (cachedSize !== null) await removeFiles(runner, [target]); // failed verification: replaced, and not counted against the bound

  const evicted = await makeRoom(settings, object.size, request.linkPath);
  const temporary = partialPathOf(target, randomBytes(4).toString('hex'));
  try {
    const digests = await download(settings, { bucket, key, ...object }, temporary);
    // The right bytes (md5) whose ETag no candidate part layout reproduces: reading again would not help.
    if (digests.md5 === expected.md5 && digests.etag !== expected.etag && object.derived) throw partLayoutUnknown({ ...object, bucket, key });
    if (digests.md5 !== expected.md5 || digests.etag !== expected.etag) {
      throw transientFailure(
        FailureType.StagedFileCorrupt,
        `${request.linkPath} staged on ${runner.where} hashes to md5 ${digests.md5} / etag ${digests.etag}; the manifest says md5 ${expected.md5} / etag ${expected.etag}`,
      );
    }
    const written = await sizeOnServer(runner, temporary);
    if (written !== object.size) throw transientFailure(FailureType.StagedFileCorrupt, `${temporary} on ${runner.where} holds ${written ?? 'no'} bytes of ${object.size}`);
    await runner.run(['chmod', '0400', '--', temporary]);
    await runner.run(['mv', '-f', '--', temporary, target]);
    return { ...result, downloaded: true, evicted };
  } finally {
    // After the rename there is nothing left to remove; when the server is unreachable, eviction
    // removes the partial file later, so this failure must not hide the one that matters.
    await removeFiles(runner, [temporary]).catch(() => undefined);
  }
}

async function makeRoom(settings: StagingSettings, incomingBytes: number, what: string): Promise<EvictedFile[]> {
  if (!settings.cacheBound) return [];
  const { maxBytes, exportedFiles } = settings.cacheBound;
  const room = await evictForRoom(settings.runner, { dir: settings.cacheDir, maxBytes, incomingBytes, inUse: await exportedFiles() });
  if (!room.fits) {
    throw permanentFailure(
      FailureType.StagingCacheFull,
      `cannot stage ${what} (${incomingBytes} bytes) on ${settings.runner.where}: the cache bound is ${maxBytes} bytes and ${room.usedBytes} bytes of it cannot go (exported images, downloads in progress); retire images or raise ISCSI_CACHE_MAX_BYTES`,
      { evicted: room.evicted },
    );
  }
  return room.evicted;
}

/** Streams the object into the file on the server through the runner, hashing it on the way. */
async function download(settings: StagingSettings, object: { bucket: string; key: string } & ObjectLayout, file: string) {
  const response = await settings.s3.send(new GetObjectCommand({ Bucket: object.bucket, Key: object.key }), { abortSignal: settings.signal });
  const body = response.Body as Readable;
  const digest = createObjectDigest(object);
  let bytesDone = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      digest.update(chunk);
      bytesDone += chunk.length;
      settings.onProgress?.({ bytesDone, bytesTotal: object.size });
      callback(null, chunk);
    },
  });
  const writing = settings.runner
    .run(['sh', '-c', 'umask 077 && exec cat > "$1"', 'sh', file], { stdin: hashing, signal: settings.signal })
    .catch((error: unknown) => {
      body.destroy(); // nothing reads the body any more: end the download too
      throw error;
    });
  const [read, written] = await Promise.allSettled([pipeline(body, hashing, { signal: settings.signal }), writing]);
  if (read.status === 'rejected') throw read.reason;
  if (written.status === 'rejected') throw written.reason;
  if (bytesDone !== object.size) throw transientFailure(FailureType.StagedFileCorrupt, `s3://${object.bucket}/${object.key}: got ${bytesDone} of ${object.size} bytes`);
  return digest.digest();
}

/** md5sum on the server, reading through dd so that its progress reports become heartbeats. */
async function md5OnServer(settings: StagingSettings, file: string, bytesTotal: number): Promise<string> {
  const { stdout } = await settings.runner.run(['sh', '-c', 'LC_ALL=C dd if="$1" bs=4M status=progress | md5sum', 'sh', file], {
    signal: settings.signal,
    onStderr: (text) => {
      const reported = [...text.matchAll(/(\d+) bytes/g)].at(-1);
      if (reported) settings.onProgress?.({ bytesDone: Number(reported[1]), bytesTotal });
    },
  });
  return stdout.slice(0, 32);
}
