// Digest of an object already in S3 (seed 002: NCN artifacts uploaded by hand): one read of the
// object gives its md5 and the ETag its part layout implies, which must equal S3's ETag.
//
// A multipart ETag ends in "-<parts>"; the part sizes come from S3 where it can tell them:
// GetObjectAttributes lists every part (one call per 1,000 parts), else HEAD ?partNumber=N answers
// with part N's length. Ceph RGW 16 (CSM's S3) does neither: GetObjectAttributes fails (500, or a body
// the SDK cannot parse) and a part HEAD answers with the whole object's length. Then the layout is
// derived: N parts of an object of S bytes were cut at a part size P with ceil(S/P) = N, and real
// uploaders use whole MiB (the AWS CLI and boto3 8 MiB, rclone 5 MiB, ours configurable), so the few
// whole-MiB candidates are all hashed in the same single read and the one that reproduces S3's ETag is
// kept; none is a clear failure naming the object, never a guess. What a server supports is remembered
// per client (one client per endpoint).
import { GetObjectAttributesCommand, GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { FailureType, permanentFailure } from '../../lib/failures';
import { stripQuotes } from '../../lib/manifest';
import { createEtagDigest, partSizesFor, type ObjectDigest, type PartLayout } from './etag';

export interface ObjectLayout {
  /** S3's ETag, without quotes. */
  etag: string;
  size: number;
  /** One layout when S3 told it; the whole-MiB candidates when it had to be derived. */
  layouts: PartLayout[];
  /** The layouts are candidates: an ETag none of them reproduces says nothing about the bytes. */
  derived?: boolean;
}

type Source = 'attributes' | 'part-heads' | 'derived';
const unsupported = new WeakMap<S3Client, Set<Source>>();
const notSupportedBy = (s3: S3Client) => unsupported.get(s3) ?? unsupported.set(s3, new Set()).get(s3)!;

const MiB = 1024 * 1024;

export async function describeObjectLayout(s3: S3Client, bucket: string, key: string): Promise<ObjectLayout> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const etag = stripQuotes(head.ETag ?? '');
  const size = head.ContentLength ?? 0;
  const parts = Number(/-(\d+)$/.exec(etag)?.[1] ?? 0);
  if (!parts) return { etag, size, layouts: [{ multipart: false, partSizes: [size] }] };
  if (parts === 1) return { etag, size, layouts: [{ multipart: true, partSizes: [size] }] };
  const consistent = (sizes: number[] | undefined) => sizes !== undefined && sizes.length === parts && sizes.reduce((a, b) => a + b, 0) === size;
  const skip = notSupportedBy(s3);
  for (const [source, read] of [
    ['attributes', () => partSizesFromAttributes(s3, bucket, key)],
    ['part-heads', () => partSizesFromHeads(s3, bucket, key, parts, size)],
  ] as const) {
    if (skip.has(source)) continue;
    const sizes = await read();
    if (consistent(sizes)) return { etag, size, layouts: [{ multipart: true, partSizes: sizes! }] };
    skip.add(source);
  }
  const layouts = wholeMiBCandidates(size, parts).map((partSize) => ({ multipart: true, partSizes: partSizesFor(size, partSize) }));
  if (!layouts.length) throw partLayoutUnknown({ bucket, key, etag, size, layouts });
  return { etag, size, layouts, derived: true };
}

/** Whole-MiB part sizes P with ceil(size / P) = parts (and at least 5 MiB, S3's smallest part but the last). */
export function wholeMiBCandidates(size: number, parts: number): number[] {
  const smallest = Math.max(5, Math.ceil(size / parts / MiB));
  const candidates: number[] = [];
  for (let mib = smallest; mib * MiB * (parts - 1) < size; mib++) {
    if (Math.ceil(size / (mib * MiB)) === parts) candidates.push(mib * MiB);
  }
  return candidates;
}

/** The object's ETag names parts whose sizes the server does not tell, and no whole-MiB candidate reproduces it. */
export const partLayoutUnknown = ({ bucket, key, etag, size }: ObjectLayout & { bucket: string; key: string }) =>
  permanentFailure(
    FailureType.PartLayoutUnknown,
    `s3://${bucket}/${key}: the server does not tell the part sizes behind its ETag ${etag}, and no whole-MiB part size for its ${size} bytes reproduces it; re-upload it with a whole-MiB part size`,
    { bucket, key, etag },
  );

/** Undefined when the server cannot tell (no GetObjectAttributes, or an answer it cannot give right). */
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
    if (status === 403 || status === 404) throw error; // about the object, not the server's features
    return undefined; // 400/405/501, RGW 16's 500, and answers the SDK cannot parse
  }
  return sizes.length ? sizes : undefined;
}

/** Undefined when a part HEAD answers with the whole object's length (RGW 16). */
async function partSizesFromHeads(s3: S3Client, bucket: string, key: string, parts: number, size: number): Promise<number[] | undefined> {
  const sizes: number[] = [];
  for (let PartNumber = 1; PartNumber <= parts; PartNumber++) {
    const length = (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, PartNumber }))).ContentLength ?? 0;
    if (parts > 1 && length === size) return undefined;
    sizes.push(length);
  }
  return sizes;
}

/**
 * Streaming digest of an object whose layout may be one of several candidates: each candidate's ETag
 * advances on the same bytes. `digest()` gives the candidate whose ETag is S3's, else the first; the
 * md5 of the whole is the same for all.
 */
export function createObjectDigest(object: ObjectLayout) {
  const digests = object.layouts.map((layout) => ({ layout, digest: createEtagDigest(layout) }));
  return {
    update(chunk: Uint8Array): void {
      for (const { digest } of digests) digest.update(chunk);
    },
    digest(): ObjectDigest & { layout: PartLayout } {
      const results = digests.map(({ layout, digest }) => ({ layout, ...digest.digest() }));
      return results.find((r) => r.etag === object.etag) ?? results[0];
    },
  };
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
  const digest = createObjectDigest(layout);
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
  const { md5, etag, layout: read } = digest.digest();
  if (etag !== layout.etag) {
    throw layout.derived ? partLayoutUnknown({ ...layout, bucket, key }) : corrupt(`S3 reports ETag ${layout.etag} but the content hashes to ${etag}`);
  }
  return { md5, etag, size: layout.size, parts: read.partSizes.length };

  function corrupt(what: string) {
    return permanentFailure(FailureType.ArtifactCorrupt, `s3://${bucket}/${key}: ${what}`, { expectedEtag: layout.etag });
  }
}
