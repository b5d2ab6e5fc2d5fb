// ETag arithmetic against vectors computed independently (Python's hashlib).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createEtagDigest, layoutForPartSize, partSizesFor } from '../../activities/s3/etag';
import { MiB, maxParts, partSizeFor } from '../../activities/s3/upload';

const data = Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256));
const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');

function digestInChunks(bytes: Buffer, partSizes: number[], multipart: boolean, chunk: number) {
  const digest = createEtagDigest({ partSizes, multipart });
  for (let offset = 0; offset < bytes.length; offset += chunk) digest.update(bytes.subarray(offset, offset + chunk));
  return digest;
}

describe('ETag digest', () => {
  it('gives md5 as the ETag of a single PUT', () => {
    expect(createEtagDigest({ partSizes: [0], multipart: false }).digest()).toEqual({ md5: 'd41d8cd98f00b204e9800998ecf8427e', etag: 'd41d8cd98f00b204e9800998ecf8427e' });
    const abc = createEtagDigest({ partSizes: [3], multipart: false });
    abc.update(Buffer.from('abc'));
    expect(abc.digest()).toEqual({ md5: '900150983cd24fb0d6963f7d28e17f72', etag: '900150983cd24fb0d6963f7d28e17f72' });
  });

  it('gives md5 of the part md5s plus the part count for a multipart upload, whatever the chunking', () => {
    const layout = layoutForPartSize(data.length, 300);
    expect(layout).toEqual({ multipart: true, partSizes: [300, 300, 300, 124] });
    for (const chunk of [1, 7, 300, 301, 1024]) {
      const digest = digestInChunks(data, layout.partSizes, layout.multipart, chunk);
      expect(digest.digest()).toEqual({ md5: 'b2ea9f7fcea831a4a63b213f41a8855b', etag: '1e6d126440597ba7a5a3d05df01164bf-4' });
      expect(digest.partMd5(3).toString('hex')).toBe('69e232452528759d554bc99b5f8706a3');
    }
  });

  it('marks a one-part multipart upload with -1', () => {
    const digest = createEtagDigest({ partSizes: [3], multipart: true });
    digest.update(Buffer.from('abc'));
    expect(digest.digest().etag).toBe('af5da9f45af7a300e3aded972f8ff687-1');
  });

  it('knows each part md5 as soon as its last byte is fed, the last part included', () => {
    const digest = createEtagDigest({ partSizes: [300, 300, 300, 124], multipart: true });
    digest.update(data.subarray(0, 299));
    expect(() => digest.partMd5(0)).toThrow(/not complete/);
    digest.update(data.subarray(299, 900));
    expect(digest.partMd5(1).toString('hex')).toBe(md5(data.subarray(300, 600)));
    digest.update(data.subarray(900));
    expect(digest.partMd5(3).toString('hex')).toBe(md5(data.subarray(900)));
  });

  it('refuses more or fewer bytes than the layout describes', () => {
    expect(() => createEtagDigest({ partSizes: [2], multipart: false }).update(Buffer.from('abc'))).toThrow(/more bytes/);
    const short = createEtagDigest({ partSizes: [3], multipart: false });
    short.update(Buffer.from('ab'));
    expect(() => short.digest()).toThrow(/only 2 of 3/);
  });

  it('splits a file into parts of the part size, multipart only beyond one part', () => {
    expect(layoutForPartSize(10, 10)).toEqual({ multipart: false, partSizes: [10] });
    expect(layoutForPartSize(11, 10)).toEqual({ multipart: true, partSizes: [10, 1] });
    expect(partSizesFor(30, 10)).toEqual([10, 10, 10]);
  });
});

describe('part size', () => {
  it('grows the part size of a file that would need more than 10,000 parts, to whole MiB', () => {
    expect(partSizeFor(1000 * MiB, 16 * MiB)).toBe(16 * MiB);
    expect(partSizeFor(200_000 * MiB, 16 * MiB)).toBe(20 * MiB);
    expect(Math.ceil((200_001 * MiB) / partSizeFor(200_001 * MiB, 16 * MiB))).toBeLessThanOrEqual(maxParts);
    expect(() => partSizeFor(1, MiB)).toThrow(/minimum/);
  });
});
