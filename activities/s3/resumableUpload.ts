// Uploads a local file to S3 in one read: the whole-file md5 and the ETag S3 must report are
// computed from the same bytes that are sent. Large files go multipart with several parts in
// flight and bounded memory ((partsInFlight + 1) parts). Progress, the upload id and the completed
// parts are reported after every part, so a later attempt resumes from the parts S3 already holds
// (checked with ListParts) and sends again at most the parts that were in flight.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import fs from 'node:fs/promises';
import { FailureType, transientFailure } from '../../lib/failures';
import { stripQuotes } from '../../lib/manifest';
import { objectDigest, partSizesFor } from './objectDigest';

export interface CompletedPart {
  PartNumber: number;
  ETag: string;
  Size: number;
}

/** Heartbeat details of an upload: everything needed to resume it, nothing secret. */
export interface UploadProgress {
  bytesDone: number;
  bytesTotal: number;
  uploadId?: string;
  partSize?: number;
  completedParts?: CompletedPart[];
}

export interface UploadRequest {
  file: string;
  bucket: string;
  key: string;
  partSize: number;
  partsInFlight: number;
  resume?: UploadProgress;
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
}

export interface UploadResult {
  bucket: string;
  key: string;
  etag: string;
  md5: string;
  size: number;
  partSize: number;
  parts: number;
  /** Body bytes sent by this attempt (resumed parts are not sent again). */
  bytesSent: number;
  resumedParts: number;
}

export async function uploadFile(s3: S3Client, request: UploadRequest): Promise<UploadResult> {
  const { size } = await fs.stat(request.file);
  const partSize = request.resume?.partSize ?? request.partSize;
  const multipart = size > partSize;
  const layout = partSizesFor(size, partSize);
  const digest = objectDigest(layout, multipart);
  const handle = await fs.open(request.file, 'r');
  try {
    const sent = multipart
      ? await sendParts(s3, request, handle, layout, partSize, digest)
      : await sendWhole(s3, request, handle, size, digest);
    const expected = digest.digest();
    const head = await s3.send(new HeadObjectCommand({ Bucket: request.bucket, Key: request.key }));
    const actual = stripQuotes(head.ETag ?? '');
    if (actual !== expected.etag || head.ContentLength !== size) {
      throw transientFailure(
        FailureType.ArtifactCorrupt,
        `s3://${request.bucket}/${request.key}: S3 reports ETag ${actual} (${head.ContentLength} bytes) but ${request.file} hashes to ${expected.etag} (${size} bytes)`,
        { expectedEtag: expected.etag, actualEtag: actual },
      );
    }
    return { bucket: request.bucket, key: request.key, etag: actual, md5: expected.md5, size, partSize, parts: layout.length, ...sent };
  } finally {
    await handle.close();
  }
}

type Digest = ReturnType<typeof objectDigest>;

async function readAt(handle: fs.FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) throw new Error(`file shrank while it was read (at byte ${position + filled})`);
    filled += bytesRead;
  }
  return buffer;
}

async function sendWhole(s3: S3Client, request: UploadRequest, handle: fs.FileHandle, size: number, digest: Digest) {
  const body = await readAt(handle, 0, size);
  digest.update(body);
  await s3.send(new PutObjectCommand({ Bucket: request.bucket, Key: request.key, Body: body, ContentLength: size }), { abortSignal: request.signal });
  request.onProgress?.({ bytesDone: size, bytesTotal: size });
  return { bytesSent: size, resumedParts: 0 };
}

/** Parts already in S3 for the recorded upload, keyed by number; none when the upload is gone. */
async function partsStillInS3(s3: S3Client, request: UploadRequest): Promise<Map<number, CompletedPart> | undefined> {
  const uploadId = request.resume?.uploadId;
  if (!uploadId) return undefined;
  const found = new Map<number, CompletedPart>();
  try {
    let marker: string | undefined;
    do {
      const page = await s3.send(new ListPartsCommand({ Bucket: request.bucket, Key: request.key, UploadId: uploadId, PartNumberMarker: marker }));
      for (const part of page.Parts ?? []) found.set(part.PartNumber!, { PartNumber: part.PartNumber!, ETag: stripQuotes(part.ETag!), Size: part.Size! });
      marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
    } while (marker);
  } catch (error) {
    if ((error as Error).name === 'NoSuchUpload') return undefined;
    throw error;
  }
  return found;
}

async function sendParts(s3: S3Client, request: UploadRequest, handle: fs.FileHandle, layout: number[], partSize: number, digest: Digest) {
  const inS3 = await partsStillInS3(s3, request);
  const uploadId = inS3
    ? request.resume!.uploadId!
    : (await s3.send(new CreateMultipartUploadCommand({ Bucket: request.bucket, Key: request.key }))).UploadId!;
  const completed = new Map<number, CompletedPart>();
  const inFlight = new Set<Promise<void>>();
  const bytesTotal = layout.reduce((a, b) => a + b, 0);
  let bytesSent = 0;
  let resumedParts = 0;
  let failure: unknown;
  const report = () =>
    request.onProgress?.({
      bytesDone: [...completed.values()].reduce((sum, p) => sum + p.Size, 0),
      bytesTotal,
      uploadId,
      partSize,
      completedParts: [...completed.values()].sort((a, b) => a.PartNumber - b.PartNumber),
    });

  for (const [index, length] of layout.entries()) {
    const partNumber = index + 1;
    const body = await readAt(handle, index * partSize, length);
    digest.update(body);
    const partMd5 = digest.completedPartMd5s()[index] ?? null;
    const existing = inS3?.get(partNumber);
    // The last part's md5 is only known at the end; a recorded last part is simply sent again.
    if (existing && partMd5 && existing.ETag === partMd5 && existing.Size === length) {
      completed.set(partNumber, existing);
      resumedParts++;
      continue;
    }
    while (inFlight.size >= request.partsInFlight) await Promise.race(inFlight);
    if (failure) break;
    const upload: Promise<void> = s3
      .send(new UploadPartCommand({ Bucket: request.bucket, Key: request.key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: length }), {
        abortSignal: request.signal,
      })
      .then((answer) => {
        bytesSent += length;
        completed.set(partNumber, { PartNumber: partNumber, ETag: stripQuotes(answer.ETag!), Size: length });
        report();
      })
      .catch((error) => {
        failure ??= error;
      })
      .finally(() => inFlight.delete(upload));
    inFlight.add(upload);
  }
  await Promise.all(inFlight);
  if (failure) throw failure;
  await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: request.bucket,
      Key: request.key,
      UploadId: uploadId,
      MultipartUpload: { Parts: [...completed.values()].sort((a, b) => a.PartNumber - b.PartNumber).map(({ PartNumber, ETag }) => ({ PartNumber, ETag: `"${ETag}"` })) },
    }),
  );
  return { bytesSent, resumedParts };
}

/** Unfinished multipart uploads of exactly this key. */
export async function pendingUploads(s3: S3Client, bucket: string, key: string): Promise<string[]> {
  const ids: string[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
    ids.push(...(page.Uploads ?? []).filter((u) => u.Key === key).map((u) => u.UploadId!));
    [keyMarker, uploadIdMarker] = page.IsTruncated ? [page.NextKeyMarker, page.NextUploadIdMarker] : [undefined, undefined];
  } while (keyMarker);
  return ids;
}

/** Aborts every unfinished multipart upload of this key: nothing orphaned is left in the bucket. */
export async function abortUploads(s3: S3Client, bucket: string, key: string): Promise<number> {
  const uploadIds = await pendingUploads(s3, bucket, key);
  for (const uploadId of uploadIds) await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
  return uploadIds.length;
}
