import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { XtsPlain64 } from '../../activities/luks/xts';

function encryptXtsPlain64(key: Buffer, segmentOffset: number, sectorSize: number, plain: Uint8Array): Buffer {
  const data = Buffer.from(plain);
  new XtsPlain64(key, sectorSize).encryptInPlace(segmentOffset, data);
  return data;
}

/** OpenSSL's own XTS, one cipher per sector, IV = little-endian 512-byte unit number. */
function referenceXts(key: Buffer, segmentOffset: number, sectorSize: number, plain: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at < plain.length; at += sectorSize) {
    const iv = Buffer.alloc(16);
    iv.writeBigUInt64LE(BigInt((segmentOffset + at) / 512));
    out.push(createCipheriv('aes-256-xts', key, iv).update(plain.subarray(at, at + sectorSize)));
  }
  return Buffer.concat(out);
}

describe('XtsPlain64', () => {
  for (const sectorSize of [512, 4096]) {
    it(`matches OpenSSL AES-256-XTS sector by sector (${sectorSize}-byte sectors, IVs past 2^32)`, () => {
      const key = randomBytes(64);
      const plain = randomBytes(40 * 4096 + 64 * sectorSize); // more than one 64 KiB batch, not a whole number of them
      for (const segmentOffset of [0, sectorSize * 7, 2 ** 32 * 512 - 3 * sectorSize]) {
        expect(encryptXtsPlain64(key, segmentOffset, sectorSize, plain).equals(referenceXts(key, segmentOffset, sectorSize, plain))).toBe(true);
      }
    });
  }

  it('encrypts in place at any byte alignment, one cipher object across calls', () => {
    const key = randomBytes(64);
    const plain = randomBytes(8192);
    const xts = new XtsPlain64(key, 512);
    const data = Buffer.concat([Buffer.alloc(3), plain]).subarray(3);
    xts.encryptInPlace(0, data.subarray(0, 4096));
    xts.encryptInPlace(4096, data.subarray(4096));
    expect(data.equals(referenceXts(key, 0, 512, plain))).toBe(true);
  });

  it('encrypts its own buffer in place, several batches at once', () => {
    const key = randomBytes(64);
    const plain = randomBytes(3 * 65536 + 4096);
    const xts = new XtsPlain64(key, 4096, 4 * 65536);
    xts.buffer.set(plain);
    xts.encryptBuffer(4096 * 9, plain.length);
    expect(Buffer.from(xts.buffer.subarray(0, plain.length)).equals(referenceXts(key, 4096 * 9, 4096, plain))).toBe(true);
    expect(() => xts.encryptBuffer(0, 5 * 65536)).toThrow(/do not fit/);
  });

  it('refuses partial sectors', () => {
    expect(() => new XtsPlain64(randomBytes(64), 512).encryptInPlace(0, randomBytes(500))).toThrow(/whole, aligned sectors/);
  });
});
