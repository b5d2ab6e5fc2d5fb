// Writing many BSS entries with few requests: hosts whose new fields are identical share one PATCH
// (a hosts list); a PATCH that 404s names hosts with no entry, which are created by POST or refused.
import { FailureType, permanentFailure } from '../../lib/failures';
import { CsmHttpError } from '../csm/client';
import type { BootParamsBody, BssClient, BssEntry } from './client';

export type EntryFields = Omit<BootParamsBody, 'hosts'>;

export interface WriteReport {
  patched: number;
  created: string[];
  /** PATCH and POST requests sent. */
  writes: number;
}

/** JSON with object keys sorted, so equal entries compare and group equal whatever BSS's key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

export const sameEntry = (a: BssEntry | null | undefined, b: BssEntry | null | undefined) => canonicalJson(a ?? null) === canonicalJson(b ?? null);

/**
 * Sets each host's fields. `refuseCreate(host)` returns why a host with no entry may not be created,
 * or undefined to create it by POST.
 */
export async function writeEntries(
  bss: BssClient,
  wanted: Map<string, EntryFields>,
  refuseCreate: (host: string) => string | undefined,
  onProgress: (hostsDone: number, hostsTotal: number) => void = () => {},
): Promise<WriteReport> {
  const report: WriteReport = { patched: 0, created: [], writes: 0 };
  const groups = new Map<string, { fields: EntryFields; hosts: string[] }>();
  for (const [host, fields] of wanted) {
    const key = canonicalJson(fields);
    const group = groups.get(key) ?? groups.set(key, { fields, hosts: [] }).get(key)!;
    group.hosts.push(host);
  }
  let hostsDone = 0;
  for (const { fields, hosts } of groups.values()) {
    onProgress(hostsDone, wanted.size);
    hostsDone += hosts.length;
    report.writes++;
    try {
      await bss.patch({ hosts, ...fields });
      report.patched += hosts.length;
      continue;
    } catch (error) {
      if (!(error instanceof CsmHttpError && error.status === 404)) throw error;
    }
    const existing = await bss.getEntries(hosts);
    const missing = hosts.filter((host) => !existing.has(host));
    const refusals = missing.flatMap((host) => {
      const reason = refuseCreate(host);
      return reason ? [`${host}: ${reason}`] : [];
    });
    if (refusals.length) throw permanentFailure(FailureType.ServiceRejected, `BSS has no entry to update: ${refusals.join('; ')}`, { hosts: missing });
    if (missing.length) {
      report.writes++;
      await bss.create({ hosts: missing, ...fields });
      report.created.push(...missing);
    }
    const present = hosts.filter((host) => existing.has(host));
    if (present.length) {
      report.writes++;
      await bss.patch({ hosts: present, ...fields });
      report.patched += present.length;
    }
  }
  return report;
}
