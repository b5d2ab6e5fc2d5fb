import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { XtsPlain64 } from '../../activities/luks/xts';

/** Our XTS over any length, through the encryptor's own buffer (64 KiB at a time). */
function encryptXtsPlain64(key: Buffer, segmentOffset: number, sectorSize: number, plain: Uint8Array): Buffer {
  const xts = new XtsPlain64(key, sectorSize);
  const out: Buffer[] = [];
  for (let at = 0; at < plain.length; at += xts.buffer.length) {
    const part = plain.subarray(at, at + xts.buffer.length);
    xts.buffer.set(part);
    xts.encryptBuffer(segmentOffset + at, part.length);
    out.push(Buffer.from(xts.buffer.subarray(0, part.length)));
  }
  return Buffer.concat(out);
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

  it('keeps one cipher object across calls', () => {
    const key = randomBytes(64);
    const plain = randomBytes(8192);
    const xts = new XtsPlain64(key, 512);
    const out: Buffer[] = [];
    for (const at of [0, 4096]) {
      xts.buffer.set(plain.subarray(at, at + 4096));
      xts.encryptBuffer(at, 4096);
      out.push(Buffer.from(xts.buffer.subarray(0, 4096)));
    }
    expect(Buffer.concat(out).equals(referenceXts(key, 0, 512, plain))).toBe(true);
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
    expect(() => new XtsPlain64(randomBytes(64), 512).encryptBuffer(0, 500)).toThrow(/whole, aligned sectors/);
    expect(() => new XtsPlain64(randomBytes(64), 512).encryptBuffer(256, 512)).toThrow(/whole, aligned sectors/);
  });
});
