// libiscsi as the initiator: what a compute node would see. CHAP credentials go through the environment,
// never into a URL (tools echo URLs).
import { execa } from 'execa';

export interface Login {
  initiator: string;
  chap?: { user: string; password: string };
}

export interface LunAddress {
  address: string;
  port: number;
  iqn: string;
  lun: number;
}

const env = (login: Login) => (login.chap ? { LIBISCSI_CHAP_USERNAME: login.chap.user, LIBISCSI_CHAP_PASSWORD: login.chap.password } : {});
const lunUrl = (lun: LunAddress) => `iscsi://${lun.address}:${lun.port}/${lun.iqn}/${lun.lun}`;

/** SendTargets discovery: the target IQNs this initiator is shown. */
export async function discover(portal: { address: string; port: number }, login: Login): Promise<string[]> {
  const result = await execa('iscsi-ls', ['-i', login.initiator, `iscsi://${portal.address}:${portal.port}`], { env: env(login), reject: false });
  return [...result.stdout.matchAll(/^Target:(\S+) Portal:/gm)].map((m) => m[1]);
}

/** Logs in and reads the capacity; rejects with libiscsi's message (e.g. "Target not found(515)"). */
export async function readCapacity(lun: LunAddress, login: Login): Promise<number> {
  const result = await execa('iscsi-readcapacity16', ['-i', login.initiator, lunUrl(lun)], { env: env(login), reject: false });
  const size = /^Total size:(\d+)$/m.exec(result.stdout);
  if (!size) throw new Error(`${result.stdout}${result.stderr}`.trim());
  return Number(size[1]);
}

/** Standard INQUIRY product id, unit serial (VPD 0x80) and the NAA designator (VPD 0x83) as hex. */
export async function identify(lun: LunAddress, login: Login): Promise<{ product: string; serial: string; naa: string }> {
  const run = (args: string[]) => execa('iscsi-inq', ['-i', login.initiator, ...args, lunUrl(lun)], { env: env(login), encoding: 'buffer' });
  const standard = Buffer.from((await run([])).stdout).toString('latin1');
  const serialPage = Buffer.from((await run(['-e', '1', '-c', '128'])).stdout).toString('latin1');
  const idPage = Buffer.from((await run(['-e', '1', '-c', '131'])).stdout);
  return {
    product: /^Product:(.*)$/m.exec(standard)?.[1].trim() ?? '',
    serial: /^Unit Serial Number:\[(.*)\]$/m.exec(serialPage)?.[1].trim() ?? '',
    naa: printedNaa(idPage),
  };
}

const naaLabel = 'Designator Type:(3) NAA\nDesignator:[';

/**
 * iscsi-inq prints the binary NAA designator with printf("%s"), so the printout stops at the first
 * zero byte of the designator. Returns the hex of what was printed (16 bytes, or fewer when cut).
 */
function printedNaa(idPage: Buffer): string {
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

/** Tries to write one block with qemu-io; returns qemu-io's output (the refusal, when refused). */
export async function tryWrite(lun: LunAddress, login: Login, passwordFile?: string): Promise<{ ok: boolean; output: string }> {
  const options = [
    'driver=iscsi',
    'transport=tcp',
    `portal=${lun.address}:${lun.port}`,
    `target=${lun.iqn}`,
    `lun=${lun.lun}`,
    `initiator-name=${login.initiator}`,
    ...(login.chap && passwordFile ? [`user=${login.chap.user}`, 'password-secret=chap0'] : []),
  ].join(',');
  const secret = passwordFile ? ['--object', `secret,id=chap0,file=${passwordFile}`] : [];
  const result = await execa('qemu-io', [...secret, '--image-opts', options, '-c', 'write -P 0x55 0 512'], { reject: false, all: true });
  const output = result.all ?? '';
  return { ok: result.exitCode === 0 && /^wrote 512\/512 bytes/m.test(output), output };
}
