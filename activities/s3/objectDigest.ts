// The digests an S3 object must have: md5 of the whole body, and the ETag S3 reports for it —
// md5 of the body for a single PUT, md5 of the concatenated part md5s plus "-<parts>" for a
// multipart upload. Both are computed in the same single read.
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash, type Hash } from 'node:crypto';
import { stripQuotes } from '../../lib/manifest';

export interface ObjectLayout {
  etag: string;
  size: number;
  multipart: boolean;
  /** One entry per part of a multipart upload; a single entry for a plain PUT. */
  partSizes: number[];
}

/** Part sizes for a file uploaded with a fixed part size (the last part takes the rest). */
export function partSizesFor(size: number, partSize: number): number[] {
  if (size <= partSize) return [size];
  const sizes = Array.from({ length: Math.floor(size / partSize) }, () => partSize);
  if (size % partSize) sizes.push(size % partSize);
  return sizes;
}

export async function describeObjectLayout(s3: S3Client, bucket: string, key: string): Promise<ObjectLayout> {
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

/** Feeds bytes in order; gives the whole-body md5 and the ETag S3 reports for this part layout. */
export function objectDigest(partSizes: number[], multipart: boolean) {
  const whole = createHash('md5');
  const partDigests: Buffer[] = [];
  let part: Hash = createHash('md5');
  let partIndex = 0;
  let leftInPart = partSizes[0];
  return {
    update(chunk: Buffer) {
      whole.update(chunk);
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
    /** md5 (hex) of each part completed so far. */
    completedPartMd5s: () => partDigests.map((d) => d.toString('hex')),
    digest(): { md5: string; etag: string } {
      const md5 = whole.digest('hex');
      if (!multipart) return { md5, etag: part.digest('hex') };
      const all = [...partDigests, part.digest()];
      return { md5, etag: `${createHash('md5').update(Buffer.concat(all)).digest('hex')}-${all.length}` };
    },
  };
}
