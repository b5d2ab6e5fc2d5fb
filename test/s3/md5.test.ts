// The WebAssembly MD5 against node:crypto (OpenSSL), one digest at a time and two in one pass.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Md5 } from '../../activities/s3/md5';

const opensslMd5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');
const data = randomBytes(600_000);

function inChunks(bytes: Uint8Array, size: number, feed: (chunk: Uint8Array) => void) {
  for (let offset = 0; offset < bytes.length; offset += size) feed(bytes.subarray(offset, offset + size));
}

describe('Md5', () => {
  it('agrees with OpenSSL on the RFC 1321 vectors and on every length around the padding boundaries', () => {
    expect(new Md5().digest().toString('hex')).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(new Md5().update(Buffer.from('message digest')).digest().toString('hex')).toBe('f96b697d7cb7938d525a2f31aaf161d0');
    for (const length of [1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000]) {
      expect(new Md5().update(data.subarray(0, length)).digest().toString('hex'), `${length} bytes`).toBe(opensslMd5(data.subarray(0, length)));
    }
  });

  it('gives the same digest whatever the chunking, across its 256 KiB scratch area', () => {
    for (const chunk of [1, 63, 64, 65, 4096, 262_144, 262_145, data.length]) {
      const md5 = new Md5();
      inChunks(data, chunk, (piece) => md5.update(piece));
      expect(md5.digest().toString('hex'), `chunks of ${chunk}`).toBe(opensslMd5(data));
    }
  });

  it('feeds two digests in step in one pass, the second restarted at block boundaries', () => {
    const whole = new Md5();
    const partDigests: string[] = [];
    let part = new Md5();
    let inPart = 0;
    const partSize = 64 * 1000;
    inChunks(data, 10_000, (chunk) => {
      for (let offset = 0; offset < chunk.length; ) {
        const take = Math.min(partSize - inPart, chunk.length - offset);
        Md5.updateBoth(whole, part, chunk.subarray(offset, offset + take));
        offset += take;
        inPart += take;
        if (inPart === partSize) {
          partDigests.push(part.digest().toString('hex'));
          part = new Md5();
          inPart = 0;
        }
      }
    });
    partDigests.push(part.digest().toString('hex'));
    expect(whole.digest().toString('hex')).toBe(opensslMd5(data));
    expect(partDigests).toEqual(Array.from({ length: Math.ceil(data.length / partSize) }, (_, i) => opensslMd5(data.subarray(i * partSize, (i + 1) * partSize))));
  });

  it('feeds two digests that are out of step one after the other, with the same results', () => {
    const first = new Md5().update(data.subarray(0, 100));
    const second = new Md5();
    inChunks(data.subarray(100), 777, (chunk) => Md5.updateBoth(first, second, chunk));
    expect(first.digest().toString('hex')).toBe(opensslMd5(data));
    expect(second.digest().toString('hex')).toBe(opensslMd5(data.subarray(100)));
    // Same position in the block but different bytes waiting: not in step either.
    const a = new Md5().update(Buffer.from('a'));
    const b = new Md5().update(Buffer.from('b'));
    Md5.updateBoth(a, b, data.subarray(0, 1000));
    expect(a.digest().toString('hex')).toBe(opensslMd5(Buffer.concat([Buffer.from('a'), data.subarray(0, 1000)])));
    expect(b.digest().toString('hex')).toBe(opensslMd5(Buffer.concat([Buffer.from('b'), data.subarray(0, 1000)])));
  });

  it('takes no bytes after its digest', () => {
    const md5 = new Md5();
    md5.digest();
    expect(() => md5.update(Buffer.from('x'))).toThrow(/already/);
  });
});
