// S3 operations on multipart uploads: what is pending, what parts an upload holds, aborting.
import {
  AbortMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { z } from 'zod';
import { stripQuotes } from '../../lib/manifest';

export const UploadedPart = z.object({
  PartNumber: z.number().int().positive(),
  /** md5 of the part, hex, without quotes. */
  ETag: z.string(),
  Size: z.number().int().nonnegative(),
});
export type UploadedPart = z.infer<typeof UploadedPart>;

export interface PendingUpload {
  key: string;
  uploadId: string;
  initiated?: string;
}

/** Unfinished multipart uploads in a bucket under `prefix`, oldest first. */
export async function pendingUploads(s3: S3Client, bucket: string, prefix = ''): Promise<PendingUpload[]> {
  const found: PendingUpload[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
    for (const upload of page.Uploads ?? []) {
      found.push({ key: upload.Key!, uploadId: upload.UploadId!, initiated: upload.Initiated?.toISOString() });
    }
    [keyMarker, uploadIdMarker] = page.IsTruncated ? [page.NextKeyMarker, page.NextUploadIdMarker] : [undefined, undefined];
  } while (keyMarker);
  return found.sort((a, b) => (a.initiated ?? '').localeCompare(b.initiated ?? ''));
}

/** Unfinished multipart uploads of exactly this key, oldest first. */
export async function pendingUploadsOfKey(s3: S3Client, bucket: string, key: string): Promise<PendingUpload[]> {
  return (await pendingUploads(s3, bucket, key)).filter((upload) => upload.key === key);
}

/** Aborts every unfinished multipart upload of this key except `keep`; returns how many. */
export async function abortUploads(s3: S3Client, bucket: string, key: string, keep?: string): Promise<number> {
  const doomed = (await pendingUploadsOfKey(s3, bucket, key)).filter((upload) => upload.uploadId !== keep);
  for (const { uploadId } of doomed) await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
  return doomed.length;
}

/** The parts S3 holds for an upload, by number; undefined when the upload no longer exists. */
export async function uploadedParts(s3: S3Client, bucket: string, key: string, uploadId: string): Promise<Map<number, UploadedPart> | undefined> {
  const parts = new Map<number, UploadedPart>();
  let marker: string | undefined;
  try {
    do {
      const page = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }));
      for (const part of page.Parts ?? []) {
        parts.set(part.PartNumber!, { PartNumber: part.PartNumber!, ETag: stripQuotes(part.ETag ?? ''), Size: part.Size ?? 0 });
      }
      marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
    } while (marker);
  } catch (error) {
    if ((error as Error).name === 'NoSuchUpload') return undefined;
    throw error;
  }
  return parts;
}
