// Reads what a node needs from the first bytes of a LUKS device without cryptsetup: the magic, the version,
// the UUID, and where the header region ends. LUKS1 and LUKS2 both keep the UUID at byte 168 (40 bytes).

export interface LuksPrefix {
  version: 1 | 2;
  uuid: string;
  /** LUKS1: the data offset in bytes. LUKS2: unknown until the JSON area is read (see luks2DataOffset). */
  dataOffset?: number;
  /** LUKS2: bytes of one header copy (binary header and JSON area). */
  headerSize?: number;
}

const magic = Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]); // "LUKS\xba\xbe"

/** The header's facts, or why the bytes are not a LUKS header (shown to the operator as is). */
export function parseLuksPrefix(head: Buffer): LuksPrefix | { problem: string } {
  if (head.length < 512) return { problem: `only ${head.length} bytes read` };
  if (!head.subarray(0, 6).equals(magic)) return { problem: `no LUKS magic at byte 0 (found ${head.subarray(0, 6).toString('hex')})` };
  const version = head.readUInt16BE(6);
  const uuid = head.subarray(168, 208).toString('latin1').replace(/\0.*$/s, '');
  if (version === 1) return { version, uuid, dataOffset: head.readUInt32BE(104) * 512 };
  if (version === 2) return { version, uuid, headerSize: Number(head.readBigUInt64BE(8)) };
  return { problem: `unknown LUKS version ${version}` };
}

/** The data segment's offset from a LUKS2 header copy (binary header + JSON area, `headerSize` bytes). */
export function luks2DataOffset(header: Buffer): number {
  const json = header.subarray(4096).toString('utf8').replace(/\0.*$/s, '');
  const metadata = JSON.parse(json) as { segments?: Record<string, { offset?: string }> };
  const offsets = Object.values(metadata.segments ?? {}).map((segment) => Number(segment.offset));
  if (offsets.length !== 1 || !Number.isSafeInteger(offsets[0])) throw new Error(`expected one LUKS2 data segment, found ${offsets.length}`);
  return offsets[0];
}

/** A squashfs superblock starts with "hsqs" (little-endian 0x73717368). */
export const isSquashfsSuperblock = (plain: Buffer) => plain.subarray(0, 4).toString('latin1') === 'hsqs';
