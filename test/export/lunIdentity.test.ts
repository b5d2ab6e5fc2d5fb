import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { lunIdentity, marshalTargetIqn } from '../../lib/lunIdentity';
import { sha224Hex } from '../../lib/sha224';

describe('lunIdentity: the SBPS marshal naming', () => {
  it('matches values computed with Python hashlib as marshal/lib/lio.py does', () => {
    const identity = lunIdentity({ linkPath: 's3://boot-images/1fb58f4e-ad23-489b-89b7-95868fca7ee6/rootfs', linkEtag: '9a3c5b6f8e0f2d1c4b7a6e5d3c2b1a09-12' });
    expect(identity.digest).toBe('3e04cfcd5cc397ce18a5be702f438a37ba7f30585ff4a1a18a7558a2');
    expect(identity.backstoreName).toBe('3e04cfcd5cc397c');
    expect(identity.serial).toBe('3e04cfcd5cc397ce18a5be702f438a3');
    expect(identity.wwid).toBe('360014053e04cfcd5cc397ce18a5be702');
    expect(marshalTargetIqn('ncn-w001')).toBe('iqn.2023-06.csm.iscsi:ncn-w001');
  });

  it('refuses an empty etag (the seed-000 manifest fault) instead of naming a LUN after it', () => {
    expect(() => lunIdentity({ linkPath: 's3://boot-images/x/rootfs', linkEtag: '' })).toThrow(/etag is empty/);
  });
});

describe('sha224Hex (pure TypeScript, for workflow code)', () => {
  it('agrees with node:crypto on edge lengths and UTF-8', () => {
    expect(sha224Hex('')).toBe('d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f');
    expect(sha224Hex('é'.repeat(100))).toBe('1e317c7548f5b2746819ed8dad6f9e31e8a9bead13437b821fe740f2');
    for (let length = 0; length < 200; length++) {
      const text = randomBytes(length).toString('base64').slice(0, length);
      expect(sha224Hex(text)).toBe(createHash('sha224').update(text).digest('hex'));
    }
  });
});
