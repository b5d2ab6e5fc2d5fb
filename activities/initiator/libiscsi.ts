// libiscsi's tools and qemu's iscsi block driver as the initiator: what a node with a given initiator IQN
// sees, in userspace, without a kernel initiator or root on a node. Each tool is an argv and a parser of
// its output, so a driver can run several in one go (toolRunner.ts); the functions below run one each.
// CHAP never enters a URL or argv (tools echo both); messages returned or thrown are the tools' own.
import { withSecretFile } from '../keys/secretFile';
import { runTools, type Chap, type ToolCall } from './toolRunner';

export interface Login {
  initiator: string;
  chap?: Chap;
}

export interface Portal {
  address: string;
  port: number;
}

export interface LunAddress extends Portal {
  iqn: string;
  lun: number;
}

export interface PortalTarget {
  iqn: string;
  /** Empty when the login to this target failed (its `messages` say why). */
  luns: { lun: number; type: string }[];
  /** What iscsi-ls printed about this target besides its LUNs: login failures, in libiscsi's words. */
  messages: string[];
}

export interface PortalListing {
  targets: PortalTarget[];
  /** What iscsi-ls said before any target: discovery failures (a refused connection...). */
  messages: string;
}

/** One tool run: its argv (and how it gets CHAP), and what its output means; `parse` throws the tool's words. */
export interface Tool<T> extends ToolCall {
  parse(output: Buffer, exitCode: number): T;
}

const portalUrl = (portal: Portal) => `iscsi://${portal.address}:${portal.port}`;
const lunUrl = (lun: LunAddress) => `${portalUrl(lun)}/${lun.iqn}/${lun.lun}`;
const text = (output: Buffer) => output.toString('latin1');
const toolFailure = (output: Buffer, exitCode: number) => new Error(text(output).trim().replace(/\s+/g, ' ') || `exit ${exitCode}, no output`);

export const tools = {
  /** SendTargets discovery only (`iscsi-ls`), or with `luns` a login to each target shown, listing its LUNs (`-s`). */
  listPortal: (portal: Portal, login: Login, options: { luns: boolean; password?: string }): Tool<PortalListing> => ({
    argv: ['iscsi-ls', '-i', login.initiator, ...(options.luns ? ['-s'] : []), portalUrl(portal)],
    password: options.password,
    parse: (output) => parsePortalListing(text(output)),
  }),

  /** READ CAPACITY(16): logs in; throws libiscsi's message (e.g. "Target not found(515)"). */
  capacity: (lun: LunAddress, login: Login): Tool<number> => ({
    argv: ['iscsi-readcapacity16', '-i', login.initiator, lunUrl(lun)],
    parse(output, exitCode) {
      const size = /^Total size:(\d+)$/m.exec(text(output));
      if (!size) throw toolFailure(output, exitCode);
      return Number(size[1]);
    },
  }),

  /** INQUIRY: the standard page, or a VPD page; its raw output (binary designators included). */
  inquiry: (lun: LunAddress, login: Login, page?: number): Tool<Buffer> => ({
    argv: ['iscsi-inq', '-i', login.initiator, ...(page === undefined ? [] : ['-e', '1', '-c', String(page)]), lunUrl(lun)],
    parse(output, exitCode) {
      if (exitCode !== 0) throw toolFailure(output, exitCode);
      return output;
    },
  }),

  /**
   * One qemu-io run: a read-only open, a read of the first `bytes`, then `reopen -w`, which qemu refuses
   * for a write-protected LUN before any write is sent. No write command is issued.
   */
  probe: (lun: LunAddress, login: Login, bytes: number): Tool<LunProbe> => ({
    argv: ['qemu-io', '-r', ...chapObject(login), '--image-opts', qemuIscsiOptions(lun, login).join(','), '-c', `read -v 0 ${bytes}`, '-c', 'reopen -w'],
    passwordOnStdin: true,
    parse(output, exitCode) {
      const { dump, messages } = splitQemuIoOutput(text(output));
      const head = parseHexDump(dump);
      if (head.length < bytes) throw toolFailure(output, exitCode);
      const reopen = messages.join(' ');
      return { head, writeProtected: /write protected|read-only/i.test(reopen), reopen };
    },
  }),
};

export interface LunProbe {
  /** The first bytes of the LUN, read through a read-only open. */
  head: Buffer;
  /** Whether qemu refused to reopen the LUN read-write (the WP bit of MODE SENSE); nothing is written. */
  writeProtected: boolean;
  /** qemu's words about the read-write reopen. */
  reopen: string;
}

/** Runs one tool; its parser's error (the tool's own words) is thrown. */
export async function run<T>(tool: Tool<T>, login: Login): Promise<T> {
  const [result] = await runTools([tool], login.chap);
  return tool.parse(result.output, result.exitCode);
}

/** Runs several tools in one go; each outcome is its value or the tool's error. */
export async function runEach(calls: Tool<unknown>[], login: Login): Promise<(unknown | Error)[]> {
  const results = await runTools(calls, login.chap);
  return results.map((result, i) => {
    try {
      return calls[i].parse(result.output, result.exitCode);
    } catch (error) {
      return error as Error;
    }
  });
}

/** SendTargets discovery only (no login to the targets): the target IQNs this initiator is shown. */
export async function discover(portal: Portal, login: Login): Promise<string[]> {
  return (await run(tools.listPortal(portal, login, { luns: false }), login)).targets.map((t) => t.iqn);
}

export const listPortal = (portal: Portal, login: Login, password?: string) => run(tools.listPortal(portal, login, { luns: true, password }), login);
export const readCapacity = (lun: LunAddress, login: Login) => run(tools.capacity(lun, login), login);
export const probeLun = (lun: LunAddress, login: Login, options: { bytes: number }) => run(tools.probe(lun, login, options.bytes), login);

export function parsePortalListing(output: string): PortalListing {
  const targets: PortalTarget[] = [];
  const before: string[] = [];
  for (const line of output.split('\n')) {
    const target = /^Target:(\S+) Portal:/.exec(line);
    const lun = /^Lun:(\d+)\s+Type:(\S+)/.exec(line);
    const current = targets[targets.length - 1];
    if (target) targets.push({ iqn: target[1], luns: [], messages: [] });
    else if (lun && current) current.luns.push({ lun: Number(lun[1]), type: lun[2] });
    else if (line.trim()) (current ? current.messages : before).push(line.trim());
  }
  return { targets, messages: before.join(' ') };
}

export const parseUnitSerial = (vpd80: Buffer) => /^Unit Serial Number:\[(.*)\]$/m.exec(text(vpd80))?.[1].trim() ?? '';

/** The unit serial number (VPD page 0x80). */
export const unitSerial = async (lun: LunAddress, login: Login) => parseUnitSerial(await run(tools.inquiry(lun, login, 0x80), login));

/** The NAA designator of the device identification page (VPD 0x83), as printed (see printedNaa). */
export const naaDesignator = async (lun: LunAddress, login: Login) => printedNaa(await run(tools.inquiry(lun, login, 0x83), login));

/** Standard INQUIRY product id, unit serial (VPD 0x80) and the NAA designator (VPD 0x83) as hex. */
export async function identify(lun: LunAddress, login: Login): Promise<{ product: string; serial: string; naa: string }> {
  const [standard, serial, naa] = (await runEach([tools.inquiry(lun, login), tools.inquiry(lun, login, 0x80), tools.inquiry(lun, login, 0x83)], login)).map((outcome) => {
    if (outcome instanceof Error) throw outcome;
    return outcome as Buffer;
  });
  return { product: /^Product:(.*)$/m.exec(text(standard))?.[1].trim() ?? '', serial: parseUnitSerial(serial), naa: printedNaa(naa) };
}

const naaLabel = 'Designator Type:(3) NAA\nDesignator:[';

/**
 * iscsi-inq prints the binary NAA designator with printf("%s"), so the printout stops at the first
 * zero byte of the designator. Returns the hex of what was printed (16 bytes, or fewer when cut).
 */
export function printedNaa(idPage: Buffer): string {
  const at = idPage.indexOf(naaLabel);
  if (at < 0) return '';
  const start = at + naaLabel.length;
  const full = idPage.subarray(start, start + 16);
  if (idPage.subarray(start + 16, start + 18).toString('latin1') === ']\n') return full.toString('hex');
  const end = idPage.indexOf(']\n', start);
  return idPage.subarray(start, end < 0 ? start : end).toString('hex');
}

/** Whether a printed NAA (see printedNaa) is the designator of this WWID ("3" + 32 hex digits). */
export function naaMatchesWwid(printed: string, wwid: string): boolean {
  const designator = wwid.slice(1);
  if (printed.length === 32) return printed === designator;
  return designator.startsWith(`${printed}00`);
}

// qemu: option values escape a comma by doubling it.
const qemuValue = (value: string) => value.replaceAll(',', ',,');

function qemuIscsiOptions(lun: LunAddress, login: Login, prefix = ''): string[] {
  return [
    `${prefix}driver=iscsi`,
    `${prefix}transport=tcp`,
    `${prefix}portal=${qemuValue(`${lun.address}:${lun.port}`)}`,
    `${prefix}target=${qemuValue(lun.iqn)}`,
    `${prefix}lun=${lun.lun}`,
    `${prefix}initiator-name=${qemuValue(login.initiator)}`,
    ...(login.chap ? [`${prefix}user=${qemuValue(login.chap.user)}`, `${prefix}password-secret=chap0`] : []),
  ];
}

/** qemu reads the CHAP password from its stdin (toolRunner feeds it): not from argv, not from a file. */
const chapObject = (login: Login) => (login.chap ? ['--object', 'secret,id=chap0,file=/dev/stdin'] : []);

/**
 * Writes `sector` (the bytes just read from offset 0) back at offset 0 with a read-write open: if the
 * target accepts it, the image content is unchanged. Used only when a LUN is not write-protected.
 */
export async function writeBack(lun: LunAddress, login: Login, sector: Buffer, scratchDir: string): Promise<{ written: boolean; output: string }> {
  return withSecretFile(sector, scratchDir, async (source) => {
    const argv = ['qemu-io', ...chapObject(login), '--image-opts', qemuIscsiOptions(lun, login).join(','), '-c', `write -s ${source} 0 ${sector.length}`];
    const [{ output, exitCode }] = await runTools([{ argv, passwordOnStdin: true }], login.chap);
    return { written: exitCode === 0 && new RegExp(`^wrote ${sector.length}/${sector.length} bytes`, 'm').test(text(output)), output: text(output).trim() };
  });
}

/**
 * The largest power-of-two block (at most 1 MiB, at least a sector) that divides `length`: each block is one
 * SCSI READ, and a LUKS2 header region of 16 MiB read 512 bytes at a time is 32,768 round trips, which
 * a busy target turned into more than the tool's timeout.
 */
export function copyBlockSize(length: number): number {
  if (length <= 0 || length % 512 !== 0) throw new Error(`cannot copy ${length} bytes from a LUN: not a whole number of 512-byte sectors`);
  let block = 512;
  while (block < 2 ** 20 && length % (block * 2) === 0) block *= 2;
  return block;
}

/** Copies the LUN's first `length` bytes (a multiple of 512) to a new local file. */
export async function copyHead(lun: LunAddress, login: Login, options: { length: number; file: string }): Promise<void> {
  const block = copyBlockSize(options.length);
  const argv = ['qemu-img', 'dd', ...chapObject(login), '--image-opts', '-O', 'raw', `bs=${block}`, `count=${options.length / block}`, `if=${qemuIscsiOptions(lun, login).join(',')}`, `of=${options.file}`];
  const [{ output, exitCode }] = await runTools([{ argv, passwordOnStdin: true }], login.chap);
  if (exitCode !== 0) throw toolFailure(output, exitCode);
}

/** Reads the first `bytes` of the plaintext through qemu's LUKS driver (LUKS1 only in qemu 7.2) over iSCSI. */
export async function readDecrypted(lun: LunAddress, login: Login, options: { keyFile: string; bytes: number }): Promise<Buffer> {
  const image = ['driver=luks', 'key-secret=luks0', ...qemuIscsiOptions(lun, login, 'file.')].join(',');
  const argv = ['qemu-io', '-r', ...chapObject(login), '--object', `secret,id=luks0,file=${qemuValue(options.keyFile)}`, '--image-opts', image, '-c', `read -v 0 ${options.bytes}`];
  const [{ output, exitCode }] = await runTools([{ argv, passwordOnStdin: true }], login.chap);
  const plain = parseHexDump(text(output));
  if (plain.length < options.bytes) throw toolFailure(output, exitCode);
  return plain;
}

/**
 * qemu-io's messages ("qemu-io: ...", on stderr) apart from its stdout. stdout reaches the merged output
 * in 4 KiB blocks and a message in between, so after a dump of 4 KiB a message sits in the middle of a
 * dump line, not at the start of one.
 */
export function splitQemuIoOutput(output: string): { dump: string; messages: string[] } {
  const message = /qemu-io: [^\n]*\n?/g;
  return { dump: output.replace(message, ''), messages: [...output.matchAll(message)].map((match) => match[0].trim()) };
}

/** The bytes of qemu-io's `read -v` dump ("00000000:  4c 55 4b 53 ...  LUKS..."). */
export function parseHexDump(output: string): Buffer {
  const bytes: number[] = [];
  for (const match of output.matchAll(/^[0-9a-f]{8}: ((?: [0-9a-f]{2})+)/gm)) {
    for (const hex of match[1].trim().split(/\s+/)) bytes.push(parseInt(hex, 16));
  }
  return Buffer.from(bytes);
}
