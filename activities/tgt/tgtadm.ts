// tgtadm, the control tool of the userspace iSCSI target tgtd, addressed by its control port.
import { execa } from 'execa';

export interface TgtTarget {
  tid: number;
  iqn: string;
  luns: { lun: number; type: string; sizeBytes: number; backingStore: string | null }[];
  acls: string[];
}

export function tgtadm(controlPort: number, args: string[]) {
  return execa('tgtadm', ['-C', String(controlPort), '--lld', 'iscsi', ...args]);
}

export async function showTargets(controlPort: number): Promise<TgtTarget[]> {
  const { stdout } = await tgtadm(controlPort, ['--op', 'show', '--mode', 'target']);
  return parseTargets(stdout);
}

/** Parses `tgtadm --op show --mode target`: indentation-structured text, one block per target. */
export function parseTargets(text: string): TgtTarget[] {
  const targets: TgtTarget[] = [];
  let section = '';
  let lun: TgtTarget['luns'][number] | undefined;
  for (const line of text.split('\n')) {
    const target = /^Target (\d+): (\S+)$/.exec(line);
    if (target) {
      targets.push({ tid: Number(target[1]), iqn: target[2], luns: [], acls: [] });
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
        lun = { lun: Number(lunStart[1]), type: '', sizeBytes: 0, backingStore: null };
        current.luns.push(lun);
      } else if (lun) {
        const [key, ...rest] = trimmed.split(': ');
        const value = rest.join(': ');
        if (key === 'Type') lun.type = value;
        if (key === 'Size') lun.sizeBytes = Number(/^(\d+) MB/.exec(value)?.[1] ?? 0) * 1_000_000;
        if (key === 'Backing store path') lun.backingStore = value === 'None' ? null : value;
      }
    } else if (section === 'ACL information' && trimmed) {
      current.acls.push(trimmed);
    }
  }
  return targets;
}
