// The LUKS key checks of the libiscsi driver. Each costs a PBKDF run (seconds with cryptsetup's defaults),
// so it runs once per server, LUN, key and header bytes, and nodes that read the same header share the
// result: a node's own evidence is its header (magic, UUID, key-slot salts and checksums). The header
// region is copied from the LUN and cryptsetup opens a key slot of the copy (no device-mapper needed);
// LUKS1 data is decrypted by qemu's luks driver over iscsi://.
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { makeScratchDir } from '../keys/secretFile';
import path from 'node:path';
import { luksDump, testKeyFile } from '../luks/cryptsetup';
import type { NodeCheckContext } from './driver';
import { copyHead, readDecrypted, type Login, type LunAddress } from './libiscsi';
import { isSquashfsSuperblock, luks2DataOffset, type LuksPrefix } from './luksHeader';

/** Bytes each node reads from the start of the LUN: the LUKS binary header lies within. */
export const headBytes = 4096;

type Outcome = { ok: true } | { ok: false; message: string } | { skipped: string };

export interface KeyFacts {
  key: Outcome;
  decrypt: Outcome;
  /** The check broke off (a read failed): not cached, the next node tries again. */
  incomplete?: boolean;
}

export function lunKeyChecks(secretsDir: string) {
  const facts = boundedCache<Promise<KeyFacts>>(1000);

  /** Copies the header region from the LUN, then cryptsetup checks the key on that copy (no device-mapper needed). */
  async function checkKeyOnLun(address: LunAddress, login: Login, header: LuksPrefix, context: NodeCheckContext): Promise<KeyFacts> {
    const scratch = await makeScratchDir(secretsDir, 'luks');
    try {
      let dataOffset = header.dataOffset;
      if (dataOffset === undefined) {
        const json = path.join(scratch, 'header-json');
        await copyHead(address, login, { length: header.headerSize!, file: json });
        dataOffset = luks2DataOffset(await readFile(json));
      }
      const copy = path.join(scratch, 'header');
      await copyHead(address, login, { length: dataOffset, file: copy });
      const dumped = await luksDump(copy);
      if (dumped.uuid !== header.uuid) return { key: { ok: false, message: `cryptsetup reads UUID ${dumped.uuid} from the header copy, the first sector says ${header.uuid}` }, decrypt: { skipped: 'the header did not check' } };
      return await context.key!.withFile(async (keyFile) => {
        if (!(await testKeyFile(copy, keyFile))) return { key: { ok: false, message: `key ${context.key!.keyId} opens no key slot of the header read from the LUN` }, decrypt: { skipped: 'the key does not open the header' } };
        return { key: { ok: true }, decrypt: await decryptSample(address, login, header, keyFile, context) };
      });
    } catch (error) {
      return { key: { ok: false, message: (error as Error).message }, decrypt: { skipped: 'the key check did not complete' }, incomplete: true };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  async function decryptSample(address: LunAddress, login: Login, header: LuksPrefix, keyFile: string, context: NodeCheckContext): Promise<Outcome> {
    if (!context.checks.decryptSample) return { skipped: 'not asked for' };
    if (header.version !== 1) return { skipped: "qemu 7.2's LUKS driver reads LUKS1 only; the key was checked with cryptsetup on the header read from the LUN" };
    const plain = await readDecrypted(address, login, { keyFile, bytes: headBytes });
    const expected = context.expected.luks!.plaintextSha256;
    if (expected) {
      const actual = createHash('sha256').update(plain).digest('hex');
      return actual === expected ? { ok: true } : { ok: false, message: `the first ${headBytes} decrypted bytes have sha256 ${actual}, expected ${expected}` };
    }
    return isSquashfsSuperblock(plain) ? { ok: true } : { ok: false, message: `the first decrypted bytes are not a squashfs superblock (${plain.subarray(0, 8).toString('hex')})` };
  }

  return {
    async check(address: LunAddress, login: Login, header: LuksPrefix, head: Buffer, context: NodeCheckContext): Promise<KeyFacts> {
      const digest = createHash('sha256').update(head).digest('hex');
      const key = [`${address.address}:${address.port}`, address.iqn, address.lun, context.key!.keyId, context.checks.decryptSample, context.expected.luks?.plaintextSha256, digest].join('|');
      const result = await facts.get(key, () => checkKeyOnLun(address, login, header, context));
      if (result.incomplete) facts.delete(key);
      return result;
    },
  };
}

/** A map of promises that forgets everything once it holds `limit` entries (a long-lived worker must not grow). */
function boundedCache<V>(limit: number) {
  const entries = new Map<string, V>();
  return {
    get(key: string, make: () => V): V {
      const hit = entries.get(key);
      if (hit !== undefined) return hit;
      if (entries.size >= limit) entries.clear();
      const value = make();
      entries.set(key, value);
      return value;
    },
    delete(key: string) {
      entries.delete(key);
    },
  };
}
