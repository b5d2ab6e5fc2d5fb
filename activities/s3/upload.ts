// Uploads a local file to S3 in one read: the whole-file md5 and the ETag S3 must report are
// computed from the very bytes that are sent, and S3's ETag is checked against them at the end.
//
// Files larger than one part go multipart, with `partsInFlight` parts on the wire and memory
// bounded by (partsInFlight + 1) part buffers, reused. Progress (upload id and completed parts) is
// reported after every part; a later attempt resumes that upload: S3's ListParts says which parts
// it holds, and a part is skipped when its size and ETag match the md5 of the local bytes, which
// are read again (the whole-file md5 and the ETag need them) but not sent again.
//
// Each body carries Content-MD5, so S3 itself refuses a part damaged on the way (BadDigest);
// with that check in place the SigV4 payload hash (a third full pass over the data) is skipped.
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import fs from 'node:fs/promises';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { z } from 'zod';
import { FailureType, transientFailure } from '../../lib/failures';
import { stripQuotes } from '../../lib/manifest';
import { createEtagDigest, layoutForPartSize, type EtagDigest } from './etag';
import { abortUploads, pendingUploadsOfKey, UploadedPart, uploadedParts } from './multipart';

export const MiB = 1024 * 1024;
/** S3's smallest part (all but the last). */
export const minPartSize = 5 * MiB;

/** Heartbeat details of an upload: what a later attempt needs to resume it, nothing secret. */
export const UploadProgress = z.object({
  bytesDone: z.number(),
  bytesTotal: z.number(),
  partSize: z.number().int().min(minPartSize),
  uploadId: z.string().optional(),
  completedParts: z.array(UploadedPart),
});
export type UploadProgress = z.infer<typeof UploadProgress>;

export interface UploadRequest {
  file: string;
  bucket: string;
  key: string;
  partSize: number;
  partsInFlight: number;
  /** The last progress of an earlier attempt. */
  resume?: UploadProgress;
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
}

export interface UploadResult {
  bucket: string;
  key: string;
  /** S3's ETag, without quotes, equal to the one computed locally. */
  etag: string;
  /** md5 of the whole file, hex. */
  md5: string;
  size: number;
  partSize: number;
  parts: number;
  /** Body bytes this attempt sent (parts found in S3 are not sent again). */
  bytesSent: number;
  resumedParts: number;
}

/** S3 accepts at most this many parts: larger files get larger parts. */
export const maxParts = 10_000;

/** The requested part size, grown to whole MiB where the file would need more than `maxParts`. */
export function partSizeFor(size: number, requested: number): number {
  if (!(requested >= minPartSize)) throw new Error(`part size ${requested} is below S3's minimum of ${minPartSize} bytes`);
  return Math.max(requested, Math.ceil(size / maxParts / MiB) * MiB);
}

export async function uploadFile(s3: S3Client, request: UploadRequest): Promise<UploadResult> {
  const handle = await fs.open(request.file, 'r');
  try {
    const { size } = await handle.stat();
    const partSize = request.resume?.partSize ?? partSizeFor(size, request.partSize);
    const layout = layoutForPartSize(size, partSize);
    const digest = createEtagDigest(layout);
    const sent = await (layout.multipart
      ? sendParts(s3, request, handle, layout.partSizes, partSize, digest)
      : sendWhole(s3, request, handle, size, partSize, digest)
    ).catch((error: Error) => {
      if (error.name !== 'BadDigest') throw error;
      throw transientFailure(FailureType.ArtifactCorrupt, `s3://${request.bucket}/${request.key}: S3 refused a part of ${request.file} that arrived damaged (BadDigest)`);
    });
    const expected = digest.digest();
    const head = await s3.send(new HeadObjectCommand({ Bucket: request.bucket, Key: request.key }));
    const actual = stripQuotes(head.ETag ?? '');
    if (actual !== expected.etag || head.ContentLength !== size) {
      throw transientFailure(
        FailureType.ArtifactCorrupt,
        `s3://${request.bucket}/${request.key}: S3 reports ETag ${actual} (${head.ContentLength} bytes) but ${request.file} hashes to ETag ${expected.etag} (${size} bytes)`,
        { expectedEtag: expected.etag, actualEtag: actual, expectedSize: size, actualSize: head.ContentLength },
      );
    }
    return { bucket: request.bucket, key: request.key, etag: actual, md5: expected.md5, size, partSize, parts: layout.partSizes.length, ...sent };
  } finally {
    await handle.close();
  }
}

async function sendWhole(s3: S3Client, request: UploadRequest, handle: fs.FileHandle, size: number, partSize: number, digest: EtagDigest) {
  const body = await readExactly(handle, Buffer.allocUnsafe(size), 0);
  await feed(digest, body);
  const ContentMD5 = Buffer.from(digest.digest().md5, 'hex').toString('base64');
  const put = new PutObjectCommand({ Bucket: request.bucket, Key: request.key, Body: body, ContentLength: size, ContentMD5 });
  await s3.send(unsignedPayload(put), { abortSignal: request.signal });
  request.onProgress?.({ bytesDone: size, bytesTotal: size, partSize, completedParts: [] });
  return { bytesSent: size, resumedParts: 0 };
}

async function sendParts(s3: S3Client, request: UploadRequest, handle: fs.FileHandle, partSizes: number[], partSize: number, digest: EtagDigest) {
  const { bucket, key } = request;
  const resumed = await findUploadToResume(s3, request);
  const uploadId = resumed?.uploadId ?? (await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))).UploadId!;
  const completed = new Map<number, UploadedPart>();
  const bytesTotal = partSizes.reduce((sum, length) => sum + length, 0);
  const report = () => {
    const completedParts = [...completed.values()].sort((a, b) => a.PartNumber - b.PartNumber);
    const bytesDone = completedParts.reduce((sum, part) => sum + part.Size, 0);
    request.onProgress?.({ bytesDone, bytesTotal, partSize, uploadId, completedParts });
  };

  const spare: Buffer[] = [];
  const inFlight = new Set<Promise<void>>();
  let bytesSent = 0;
  let resumedParts = 0;
  let failure: unknown;
  for (const [index, length] of partSizes.entries()) {
    request.signal?.throwIfAborted();
    const PartNumber = index + 1;
    // At most partsInFlight buffers are on the wire and one is being read: (partsInFlight + 1) in all.
    const buffer = spare.pop() ?? Buffer.allocUnsafeSlow(partSize);
    const body = await readExactly(handle, buffer.subarray(0, length), index * partSize);
    await feed(digest, body);
    const ETag = digest.partMd5(index).toString('hex');
    const inS3 = resumed?.parts.get(PartNumber);
    if (inS3 && inS3.ETag === ETag && inS3.Size === length) {
      completed.set(PartNumber, inS3);
      resumedParts++;
      spare.push(buffer);
      report();
      continue;
    }
    while (inFlight.size >= request.partsInFlight) await Promise.race(inFlight);
    if (failure) break;
    const upload = new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber, Body: body, ContentLength: length, ContentMD5: digest.partMd5(index).toString('base64') });
    const sending: Promise<void> = s3
      .send(unsignedPayload(upload), { abortSignal: request.signal })
      .then(
        () => {
          bytesSent += length;
          completed.set(PartNumber, { PartNumber, ETag, Size: length });
          report();
        },
        (error) => {
          failure ??= error;
        },
      )
      .finally(() => {
        inFlight.delete(sending);
        spare.push(buffer);
      });
    inFlight.add(sending);
  }
  await Promise.all(inFlight);
  if (failure) throw failure;

  const Parts = [...completed.values()].sort((a, b) => a.PartNumber - b.PartNumber).map(({ PartNumber, ETag }) => ({ PartNumber, ETag: `"${ETag}"` }));
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts } }));
  // Uploads of this key that earlier attempts started and lost track of: nothing orphaned remains.
  await abortUploads(s3, bucket, key);
  return { bytesSent, resumedParts };
}

/**
 * The upload an earlier attempt started: the one its progress names or, when that progress never
 * reached the server, the newest unfinished upload of the key. Undefined when there is none left.
 */
async function findUploadToResume(s3: S3Client, request: UploadRequest) {
  const uploadId = request.resume?.uploadId ?? (await pendingUploadsOfKey(s3, request.bucket, request.key)).at(-1)?.uploadId;
  if (!uploadId) return undefined;
  const parts = await uploadedParts(s3, request.bucket, request.key, uploadId);
  return parts && { uploadId, parts };
}

/** Fills `buffer` from `position`; a file that shrank while being read is an error, not a short part. */
async function readExactly(handle: fs.FileHandle, buffer: Buffer, position: number): Promise<Buffer> {
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, position + filled);
    if (bytesRead === 0) throw new Error(`file shrank while it was read (at byte ${position + filled})`);
    filled += bytesRead;
  }
  return buffer;
}

const hashSlice = 4 * MiB;

/** Hashes in slices, yielding between them so the parts in flight keep being written to their sockets. */
async function feed(digest: EtagDigest, body: Buffer): Promise<void> {
  for (let offset = 0; offset < body.length; offset += hashSlice) {
    digest.update(body.subarray(offset, offset + hashSlice));
    await yieldToEventLoop();
  }
}

/** Marks the body unsigned for SigV4: its Content-MD5 is what protects it (see the top of this file). */
function unsignedPayload<C extends PutObjectCommand | UploadPartCommand>(command: C): C {
  // The two commands' stacks differ only in input and output types, which this step does not touch.
  (command.middlewareStack as PutObjectCommand['middlewareStack']).add(
    (next) => (args) => {
      (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'unsignedPayload' },
  );
  return command;
}
