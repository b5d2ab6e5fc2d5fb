// The LUKS header reader against headers cryptsetup wrote, and the libiscsi/qemu output parsers.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyBlockSize, parseHexDump, parsePortalListing, tools } from '../../activities/initiator/libiscsi';
import { isSquashfsSuperblock, luks2DataOffset, parseLuksPrefix } from '../../activities/initiator/luksHeader';
import { luksDump } from '../../activities/luks/cryptsetup';

const dir = mkdtempSync(path.join(tmpdir(), 'luks-header-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function container(version: 1 | 2, extra: string[] = []) {
  const file = path.join(dir, `c${version}-${randomBytes(3).toString('hex')}`);
  const keyFile = path.join(dir, 'key');
  writeFileSync(keyFile, randomBytes(32).toString('base64url'), { mode: 0o600 });
  writeFileSync(file, Buffer.alloc(20 << 20));
  await execa('cryptsetup', ['luksFormat', '--batch-mode', '--type', `luks${version}`, '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file', keyFile, ...extra, file]);
  return { file, header: await luksDump(file) };
}

describe('LUKS header reader', () => {
  it.each([
    [1, []],
    [2, []],
    [2, ['--offset', '8192', '--luks2-metadata-size', '64k', '--luks2-keyslots-size', '2m']],
  ] as const)('reads version, UUID and data offset of LUKS%i %j as cryptsetup does', async (version, extra) => {
    const { file, header } = await container(version, [...extra]);
    const bytes = readFileSync(file);
    const prefix = parseLuksPrefix(bytes.subarray(0, 4096));
    expect(prefix).toMatchObject({ version, uuid: header.uuid });
    if (!('problem' in prefix) && prefix.version === 2) {
      expect(prefix.headerSize).toBeGreaterThan(4096);
      expect(luks2DataOffset(bytes.subarray(0, prefix.headerSize))).toBe(header.dataOffset);
    } else expect(prefix).toMatchObject({ dataOffset: header.dataOffset });
  });

  it('says why bytes are not a LUKS header', () => {
    const squashfs = Buffer.concat([Buffer.from('hsqs'), Buffer.alloc(4092)]);
    expect(parseLuksPrefix(squashfs)).toEqual({ problem: 'no LUKS magic at byte 0 (found 687371730000)' });
    expect(isSquashfsSuperblock(squashfs)).toBe(true);
    expect(parseLuksPrefix(Buffer.alloc(100))).toEqual({ problem: 'only 100 bytes read' });
  });
});

describe('libiscsi and qemu output', () => {
  it("reads qemu-io's hex dump back into bytes, short last lines included", () => {
    const dump = [
      '00000000:  4c 55 4b 53 ba be 00 02 00 00 00 00 00 00 40 00  LUKS............',
      '00000010:  61 62 20 20                                      ab..',
      'read 20/20 bytes at offset 0',
      '20 bytes, 1 ops; 00.00 sec (268.039 KiB/sec and 4288.6244 ops/sec)',
    ].join('\n');
    expect(parseHexDump(dump).toString('hex')).toBe('4c554b53babe0002000000000000400061622020');
  });

  it("finds qemu-io's refusal to reopen a LUN read-write even inside a dump line, and the dump intact", () => {
    const lun = { address: '127.0.0.2', port: 3260, iqn: 'iqn.2023-06.csm.iscsi:x', lun: 1 };
    const head = Buffer.from(Array.from({ length: 64 }, (_, i) => i));
    const lines = Array.from({ length: 4 }, (_, i) => `${(i * 16).toString(16).padStart(8, '0')}:  ${[...head.subarray(i * 16, i * 16 + 16)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}  ................`);
    // As recorded from the dev stack: stderr lands where stdout's 4 KiB block ended, here mid-line.
    lines[2] = lines[2].replace('  ....', '  qemu-io: Cannot open a write protected LUN as read-write\n....');
    const output = Buffer.from([...lines, 'read 64/64 bytes at offset 0', '64 bytes, 1 ops; 00.00 sec (286.846 KiB/sec and 4589.5349 ops/sec)', ''].join('\n'));
    const probe = tools.probe(lun, { initiator: 'iqn.x:a' }, 64).parse(output, 1);
    expect(probe).toEqual({ head, writeProtected: true, reopen: 'qemu-io: Cannot open a write protected LUN as read-write' });
  });

  it('reads iscsi-ls -s: discovery errors, targets, their LUNs, and what it said about a target it could not log into', () => {
    const output = [
      'discoveryconnect_cb: connection failed : iscsi_service: socket error Connection refused(111).',
      'Target:iqn.2023-06.csm.iscsi:iscsi1 Portal:127.0.0.2:3260,1',
      'Lun:0    Type:STORAGE_ARRAY_CONTROLLER',
      'Lun:1    Type:DIRECT_ACCESS (Size:1M)',
      'Target:iqn.2023-06.csm.iscsi:other Portal:127.0.0.2:3260,1',
      'list_luns: iscsi_connect failed. Failed to log in to target. Status: Authentication failure(513)',
      '',
    ].join('\n');
    expect(parsePortalListing(output)).toEqual({
      targets: [
        { iqn: 'iqn.2023-06.csm.iscsi:iscsi1', luns: [{ lun: 0, type: 'STORAGE_ARRAY_CONTROLLER' }, { lun: 1, type: 'DIRECT_ACCESS' }], messages: [] },
        { iqn: 'iqn.2023-06.csm.iscsi:other', luns: [], messages: ['list_luns: iscsi_connect failed. Failed to log in to target. Status: Authentication failure(513)'] },
      ],
      messages: 'discoveryconnect_cb: connection failed : iscsi_service: socket error Connection refused(111).',
    });
  });
});

describe('copying the header region off a LUN', () => {
  it('reads it in the largest power-of-two blocks up to 1 MiB that divide it, not 512 bytes at a time', () => {
    // LUKS2's default data offset: 16 reads, not 32,768.
    expect(copyBlockSize(16 * 2 ** 20)).toBe(2 ** 20);
    expect(copyBlockSize(16 * 1024)).toBe(16 * 1024);
    expect(copyBlockSize(4096 * 512)).toBe(2 ** 20);
    expect(copyBlockSize(3 * 512)).toBe(512);
    expect(copyBlockSize(2 ** 20 + 512)).toBe(512);
  });

  it('refuses a length that is not whole sectors', () => {
    expect(() => copyBlockSize(1000)).toThrow(/1000 bytes.*512-byte sectors/);
  });
});
