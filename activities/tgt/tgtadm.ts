// tgtadm, the control tool of the userspace iSCSI target tgtd, addressed by its control port.
import { execa } from 'execa';

export interface TgtLun {
  lun: number;
  type: string;
  /** tgtadm prints the size in whole MB (10^6 bytes): an approximation. */
  sizeBytes: number;
  backingStore: string | null;
  serial: string;
  scsiId: string;
  readonly: boolean;
}

export interface TgtTarget {
  tid: number;
  iqn: string;
  luns: TgtLun[];
  /** Initiator names and addresses allowed in (`ALL` for any). */
  acls: string[];
  /** CHAP accounts bound to the target. */
  accounts: { user: string; outgoing: boolean }[];
}

export const tgtadmArgv = (controlPort: number, args: string[]): string[] => ['tgtadm', '-C', String(controlPort), '--lld', 'iscsi', ...args];

export function tgtadm(controlPort: number, args: string[]) {
  const [file, ...rest] = tgtadmArgv(controlPort, args);
  return execa(file, rest);
}

export async function showTargets(controlPort: number): Promise<TgtTarget[]> {
  const { stdout } = await tgtadm(controlPort, ['--op', 'show', '--mode', 'target']);
  return parseTargets(stdout);
}

/** Parses `tgtadm --op show --mode target`: indentation-structured text, one block per target. */
export function parseTargets(text: string): TgtTarget[] {
  const targets: TgtTarget[] = [];
  let section = '';
  let lun: TgtLun | undefined;
  for (const line of text.split('\n')) {
    const target = /^Target (\d+): (\S+)$/.exec(line);
    if (target) {
      targets.push({ tid: Number(target[1]), iqn: target[2], luns: [], acls: [], accounts: [] });
      section = '';
      continue;
    }
    const current = targets.at(-1);
    if (!current) continue;
    const heading = /^ {4}(\S.*):$/.exec(line);
    if (heading) {
      section = heading[1];
      continue;
    }
    const trimmed = line.trim();
    if (section === 'LUN information') {
      const lunStart = /^LUN: (\d+)$/.exec(trimmed);
      if (lunStart) {
        lun = { lun: Number(lunStart[1]), type: '', sizeBytes: 0, backingStore: null, serial: '', scsiId: '', readonly: false };
        current.luns.push(lun);
      } else if (lun) {
        const [key, ...rest] = trimmed.split(': ');
        const value = rest.join(': ');
        if (key === 'Type') lun.type = value;
        if (key === 'Size') lun.sizeBytes = Number(/^(\d+) MB/.exec(value)?.[1] ?? 0) * 1_000_000;
        if (key === 'Backing store path') lun.backingStore = value === 'None' ? null : value;
        if (key === 'SCSI SN') lun.serial = value;
        if (key === 'SCSI ID') lun.scsiId = value;
        if (key === 'Readonly') lun.readonly = value === 'Yes';
      }
    } else if (section === 'ACL information' && trimmed) {
      current.acls.push(trimmed);
    } else if (section === 'Account information' && trimmed) {
      const account = /^(\S+)( \(outgoing\))?$/.exec(trimmed);
      if (account) current.accounts.push({ user: account[1], outgoing: Boolean(account[2]) });
    }
  }
  return targets;
}

/** Parses `tgtadm --op show --mode account`: "Account list:" then one user per line. */
export const parseAccounts = (text: string): string[] =>
  text
    .split('\n')
    .slice(1)
    .map((line) => line.trim())
    .filter(Boolean);

/** Parses `tgtadm --op show --mode portal`: lines like "Portal: 127.0.0.2:3260,1". */
export const parsePortals = (text: string): { address: string; port: number }[] =>
  [...text.matchAll(/^Portal: (.+):(\d+),\d+$/gm)].map((m) => ({ address: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) }));
