// BSS boot parameters through the API gateway (bss.yaml). PUT is deliberately absent: it replaces a
// host's whole record and wipes its cloud-init (DESIGN §4); PATCH changes, POST creates.
import { CsmHttpError, type CsmClient } from '../csm/client';

/** An entry as BSS stores it for one host, without the `hosts` it was listed under. */
export interface BssEntry {
  kernel?: string;
  initrd?: string;
  params?: string;
  'cloud-init'?: unknown;
  [field: string]: unknown;
}

export interface BootParamsBody {
  hosts: string[];
  kernel?: string;
  initrd?: string;
  params?: string;
  'cloud-init'?: unknown;
}

const path = '/apis/bss/boot/v1/bootparameters';

/**
 * The names go in the query string, as many per GET as fit in `maxUrlLength` (proxies in front of
 * BSS commonly take a request line of 8 KiB: nginx's default buffer); above `fetchAllAbove` hosts
 * one GET of every entry is cheaper.
 */
const maxUrlLength = 8000;
const fetchAllAbove = 500;

/** The names in runs whose `?name=a,b,...` query keeps the URL within maxUrlLength. */
function namesPerUrl(hosts: string[]): string[][] {
  const runs: string[][] = [];
  let length = Infinity;
  for (const host of hosts) {
    const added = encodeURIComponent(host).length + 1;
    if (length + added > maxUrlLength) {
      runs.push([]);
      length = `${path}?name=`.length - 1;
    }
    runs.at(-1)!.push(host);
    length += added;
  }
  return runs;
}

export class BssClient {
  constructor(private readonly csm: CsmClient) {}

  /** Each host's entry; hosts with none are absent from the map. */
  async getEntries(hosts: string[]): Promise<Map<string, BssEntry>> {
    const wanted = new Set(hosts);
    const lists =
      hosts.length > fetchAllAbove
        ? [await this.list()]
        : await Promise.all(namesPerUrl(hosts).map((names) => this.list(names)));
    const entries = new Map<string, BssEntry>();
    for (const item of lists.flat()) {
      const { hosts: listed, ...entry } = item;
      for (const host of listed ?? []) if (wanted.has(host)) entries.set(host, entry);
    }
    return entries;
  }

  /** Every entry BSS has, with the hosts it is stored under. */
  all(): Promise<(BssEntry & { hosts?: string[] })[]> {
    return this.list();
  }

  /** BSS answers 404 when none of the names has an entry. */
  private async list(names?: string[]): Promise<(BssEntry & { hosts?: string[] })[]> {
    const query = names ? `?name=${names.map(encodeURIComponent).join(',')}` : '';
    try {
      return (await this.csm.request<(BssEntry & { hosts?: string[] })[] | null>('GET', path + query)) ?? [];
    } catch (error) {
      if (names && error instanceof CsmHttpError && error.status === 404) return [];
      throw error;
    }
  }

  /** Merges the given fields into existing entries; a 404 when any host has none. */
  patch(body: BootParamsBody): Promise<void> {
    return this.csm.request('PATCH', path, body);
  }

  /** Creates entries; a 400 when any host already has one. */
  create(body: BootParamsBody): Promise<void> {
    return this.csm.request('POST', path, body);
  }

  delete(hosts: string[]): Promise<void> {
    return this.csm.request('DELETE', path, { hosts });
  }
}
