// Digest of an object already in S3 (seed 002: NCN artifacts uploaded by hand): one read of the
// object gives its md5 and the ETag its part layout implies, which must equal S3's ETag.
//
// The part layout is taken from S3, never guessed from a part size: a multipart ETag ends in
// "-<parts>", and GetObjectAttributes lists every part's size (one call per 1,000 parts). Servers
// without GetObjectAttributes (older Ceph RGW) answer HEAD ?partNumber=N with that part's length,
// so there it costs one HEAD per part.
import { GetObjectAttributesCommand, GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { FailureType, permanentFailure } from '../../lib/failures';
import { stripQuotes } from '../../lib/manifest';
import { createEtagDigest, type ObjectDigest, type PartLayout } from './etag';

export interface ObjectLayout extends PartLayout {
  /** S3's ETag, without quotes. */
  etag: string;
  size: number;
}

export async function describeObjectLayout(s3: S3Client, bucket: string, key: string): Promise<ObjectLayout> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const etag = stripQuotes(head.ETag ?? '');
  const size = head.ContentLength ?? 0;
  const parts = Number(/-(\d+)$/.exec(etag)?.[1] ?? 0);
  if (!parts) return { etag, size, multipart: false, partSizes: [size] };
  const partSizes = (await partSizesFromAttributes(s3, bucket, key)) ?? (await partSizesFromHeads(s3, bucket, key, parts));
  const sum = partSizes.reduce((a, b) => a + b, 0);
  if (partSizes.length !== parts || sum !== size) {
    throw new Error(`s3://${bucket}/${key}: ETag ${etag} names ${parts} parts of ${size} bytes, but S3 lists ${partSizes.length} parts of ${sum} bytes`);
  }
  return { etag, size, multipart: true, partSizes };
}

/** Undefined when the server does not implement GetObjectAttributes. */
async function partSizesFromAttributes(s3: S3Client, bucket: string, key: string): Promise<number[] | undefined> {
  const sizes: number[] = [];
  let marker: string | undefined;
  try {
    do {
      const page = await s3.send(new GetObjectAttributesCommand({ Bucket: bucket, Key: key, ObjectAttributes: ['ObjectParts'], PartNumberMarker: marker }));
      sizes.push(...(page.ObjectParts?.Parts ?? []).map((part) => part.Size ?? 0));
      marker = page.ObjectParts?.IsTruncated ? page.ObjectParts.NextPartNumberMarker : undefined;
    } while (marker);
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 400 || status === 405 || status === 501) return undefined;
    throw error;
  }
  return sizes.length ? sizes : undefined;
}

async function partSizesFromHeads(s3: S3Client, bucket: string, key: string, parts: number): Promise<number[]> {
  const sizes: number[] = [];
  for (let PartNumber = 1; PartNumber <= parts; PartNumber++) {
    sizes.push((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, PartNumber }))).ContentLength ?? 0);
  }
  return sizes;
}

export interface DigestRequest {
  bucket: string;
  key: string;
  onProgress?: (progress: { bytesDone: number; bytesTotal: number }) => void;
  signal?: AbortSignal;
}

/** Streams the object once; throws ArtifactCorrupt when its bytes do not hash to S3's ETag. */
export async function digestObject(s3: S3Client, request: DigestRequest): Promise<ObjectDigest & { size: number; parts: number }> {
  const { bucket, key } = request;
  const layout = await describeObjectLayout(s3, bucket, key);
  const digest = createEtagDigest(layout);
  // IfMatch: an object replaced while it is read fails the read instead of mixing two versions.
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: `"${layout.etag}"` }), { abortSignal: request.signal });
  let bytesDone = 0;
  for await (const chunk of object.Body as Readable) {
    if (bytesDone + (chunk as Buffer).length > layout.size) throw corrupt(`more than the ${layout.size} bytes S3 reports`);
    digest.update(chunk as Buffer);
    bytesDone += (chunk as Buffer).length;
    request.onProgress?.({ bytesDone, bytesTotal: layout.size });
  }
  if (bytesDone !== layout.size) throw corrupt(`${bytesDone} bytes read, ${layout.size} reported`);
  const { md5, etag } = digest.digest();
  if (etag !== layout.etag) throw corrupt(`S3 reports ETag ${layout.etag} but the content hashes to ${etag}`);
  return { md5, etag, size: layout.size, parts: layout.partSizes.length };

  function corrupt(what: string) {
    return permanentFailure(FailureType.ArtifactCorrupt, `s3://${bucket}/${key}: ${what}`, { expectedEtag: layout.etag });
  }
}
