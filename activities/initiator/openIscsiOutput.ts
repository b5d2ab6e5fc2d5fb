// Parsers for what open-iscsi, lsblk and multipath print on a node. Pure, and unit-tested against outputs
// written by hand (test/initiator/openIscsi.test.ts) and captured on VM-tier guests (openIscsiCaptured.test.ts):
// no kernel initiator runs on the dev host.

/** `InitiatorName=iqn...` from /etc/iscsi/initiatorname.iscsi. */
export function parseInitiatorName(text: string): string | undefined {
  return /^\s*InitiatorName=(\S+)\s*$/m.exec(text)?.[1];
}

export interface SendTarget {
  /** `address:port`, IPv6 addresses in brackets. */
  portal: string;
  tpgt: number;
  iqn: string;
}

/** `iscsiadm -m discovery -t sendtargets -p ...`: one `address:port,tpgt iqn` line per target portal. */
export function parseSendTargets(stdout: string): SendTarget[] {
  return [...stdout.matchAll(/^(\S+):(\d+),(\d+)\s+(iqn\.\S+|eui\.\S+|naa\.\S+)\s*$/gm)].map((m) => ({ portal: `${m[1]}:${m[2]}`, tpgt: Number(m[3]), iqn: m[4] }));
}

export interface SessionDisk {
  lun: number;
  device: string;
  state: string;
}

export interface Session {
  iqn: string;
  portal: string;
  sid: number;
  state?: string;
  disks: SessionDisk[];
}

/** `iscsiadm -m session -P 3`: the sessions, each with the SCSI disks attached to it. */
export function parseSessionTree(stdout: string): Session[] {
  const sessions: Session[] = [];
  let iqn: string | undefined;
  let current: Session | undefined;
  let lun: number | undefined;
  for (const line of stdout.split('\n')) {
    const target = /^Target:\s+(\S+)/.exec(line);
    if (target) {
      iqn = target[1];
      current = undefined;
      continue;
    }
    const portal = /^\s*Current Portal:\s+(\S+):(\d+),\d+/.exec(line);
    if (portal && iqn) {
      current = { iqn, portal: `${portal[1]}:${portal[2]}`, sid: NaN, disks: [] };
      sessions.push(current);
      continue;
    }
    if (!current) continue;
    const sid = /^\s*SID:\s+(\d+)/.exec(line);
    if (sid) current.sid = Number(sid[1]);
    const state = /^\s*iSCSI Session State:\s+(\S+)/.exec(line);
    if (state) current.state = state[1];
    const lunLine = /^\s*scsi\d+ Channel \d+ Id \d+ Lun: (\d+)/.exec(line);
    if (lunLine) lun = Number(lunLine[1]);
    const disk = /^\s*Attached scsi disk (\S+)\s+State: (\S+)/.exec(line);
    if (disk && lun !== undefined) current.disks.push({ lun, device: disk[1], state: disk[2] });
  }
  return sessions;
}

export interface BlockDevice {
  name: string;
  size: number;
  serial: string;
  /** `0x` + NAA designator, as udev reports it. */
  wwn: string;
  ro: boolean;
}

/** `lsblk --json --bytes --nodeps --output NAME,SIZE,SERIAL,WWN,RO`; older util-linux prints every value as a string. */
export function parseLsblk(stdout: string): BlockDevice[] {
  const parsed = JSON.parse(stdout) as { blockdevices?: Record<string, unknown>[] };
  return (parsed.blockdevices ?? []).map((d) => ({
    name: String(d.name ?? ''),
    size: Number(d.size ?? NaN),
    serial: String(d.serial ?? '').trim(),
    wwn: String(d.wwn ?? '').trim().toLowerCase(),
    ro: d.ro === true || d.ro === '1' || d.ro === 1,
  }));
}

export interface MultipathPath {
  hctl: string;
  device: string;
  dmState: string;
  pathState: string;
  online: string;
}

export interface MultipathMap {
  /** The map's name under /dev/mapper (an alias, a user-friendly name, or the WWID itself). */
  name: string;
  wwid: string;
  dm: string;
  /** `wp=ro` or `wp=rw`. */
  writeProtect?: string;
  paths: MultipathPath[];
}

/** `multipath -ll [wwid]`; lines multipath prints before the maps (configuration warnings) are skipped. */
export function parseMultipath(stdout: string): MultipathMap[] {
  const maps: MultipathMap[] = [];
  for (const line of stdout.split('\n')) {
    const named = /^(\S+)\s+\((\w+)\)\s+(dm-\d+)\s/.exec(line);
    const bare = /^(3\w+)\s+(dm-\d+)\s/.exec(line);
    if (named || bare) {
      maps.push(named ? { name: named[1], wwid: named[2], dm: named[3], paths: [] } : { name: bare![1], wwid: bare![1], dm: bare![2], paths: [] });
      continue;
    }
    const map = maps[maps.length - 1];
    if (!map) continue;
    const size = /^size=\S+.*\bwp=(\w+)/.exec(line);
    if (size) map.writeProtect = size[1];
    const path = /[|`]- (\d+:\d+:\d+:\d+)\s+(\S+)\s+\d+:\d+\s+(\S+)\s+(\S+)\s+(\S+)/.exec(line);
    if (path) map.paths.push({ hctl: path[1], device: path[2], dmState: path[3], pathState: path[4], online: path[5] });
  }
  return maps;
}
