// The two digests of an S3 object, computed in one read of its bytes: the md5 of the whole body
// (the manifest's `md5`) and the ETag S3 reports, which depends on how the object was uploaded:
//   single PUT:  md5 of the body, hex
//   multipart:   md5 of the concatenated binary md5s of the parts, hex, then "-<number of parts>"
// (AWS, Ceph RGW and SeaweedFS agree on this when no server-side encryption is used.)
// Both md5s advance together in one pass over the bytes (md5.ts).
import { createHash } from 'node:crypto';
import { Md5 } from './md5';

/** How an object is (or will be) split: one entry per part; a single entry for a plain PUT. */
export interface PartLayout {
  multipart: boolean;
  partSizes: number[];
}

/** Part sizes for a file uploaded with a fixed part size (the last part takes the rest). */
export function partSizesFor(size: number, partSize: number): number[] {
  if (size <= partSize) return [size];
  const sizes = Array.from({ length: Math.floor(size / partSize) }, () => partSize);
  if (size % partSize) sizes.push(size % partSize);
  return sizes;
}

/** How a file is uploaded with a fixed part size: multipart only when it exceeds one part. */
export function layoutForPartSize(size: number, partSize: number): PartLayout {
  return { multipart: size > partSize, partSizes: partSizesFor(size, partSize) };
}

export function multipartEtag(partMd5s: Buffer[]): string {
  return `${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${partMd5s.length}`;
}

export interface ObjectDigest {
  md5: string;
  etag: string;
}

/**
 * Streaming digest: feed the object's bytes in order, in chunks of any size. Each part's md5 is
 * available as soon as its last byte has been fed (the upload checks parts already in S3 with it).
 */
export function createEtagDigest(layout: PartLayout) {
  const whole = new Md5();
  const partMd5s: Buffer[] = [];
  let part = new Md5();
  let leftInPart = layout.partSizes[0];
  let fed = 0;
  let result: ObjectDigest | undefined;
  const total = layout.partSizes.reduce((sum, size) => sum + size, 0);

  return {
    update(chunk: Uint8Array): void {
      if (fed + chunk.length > total) throw new Error(`more bytes than the ${total} the layout describes`);
      fed += chunk.length;
      let offset = 0;
      while (offset < chunk.length) {
        const take = Math.min(leftInPart, chunk.length - offset);
        Md5.updateBoth(whole, part, chunk.subarray(offset, offset + take));
        offset += take;
        leftInPart -= take;
        if (leftInPart === 0) closePart();
      }
    },
    /** Binary md5 of part `index` (0-based), once all its bytes have been fed. */
    partMd5(index: number): Buffer {
      const md5 = partMd5s[index];
      if (!md5) throw new Error(`part ${index + 1} is not complete yet`);
      return md5;
    },
    /** The digests, once every byte has been fed. */
    digest(): ObjectDigest {
      if (result) return result;
      if (fed !== total) throw new Error(`only ${fed} of ${total} bytes were fed`);
      if (partMd5s.length < layout.partSizes.length) closePart(); // an empty object has no byte to close its part
      const md5 = whole.digest().toString('hex');
      result = { md5, etag: layout.multipart ? multipartEtag(partMd5s) : md5 };
      return result;
    },
  };

  function closePart() {
    partMd5s.push(part.digest());
    part = new Md5();
    leftInPart = layout.partSizes[partMd5s.length] ?? 0;
  }
}

export type EtagDigest = ReturnType<typeof createEtagDigest>;
