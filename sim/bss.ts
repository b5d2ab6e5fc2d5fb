// BSS boot parameters, per host, with the semantics real clients trip over: PUT replaces a host's
// whole record (cloud-init included); PATCH merges, replaces `params` as one string, and is a 404
// for a host with no entry; POST is a 400 when a host already has one; GET by name= is a 404 when
// nothing matches.
import { problem, requireObject, route, type Request, type Route } from './http';
import type { BootParameters, StateFile } from './store';

const base = '/apis/bss/boot/v1';

interface BootParamsBody {
  hosts?: string[];
  params?: string;
  kernel?: string;
  initrd?: string;
  'cloud-init'?: unknown;
}

export class Bss {
  constructor(private readonly store: StateFile) {}

  private get entries() {
    return this.store.state.bootParameters;
  }

  routes(): Route[] {
    return [
      route('GET', `${base}/bootparameters`, (request) => ({ status: 200, body: this.get(request) })),
      route('PUT', `${base}/bootparameters`, ({ body }) => {
        const { hosts, ...fields } = this.body(body);
        for (const host of hosts) this.entries[host] = { params: fields.params ?? '', kernel: fields.kernel ?? '', initrd: fields.initrd ?? '', ...(fields['cloud-init'] !== undefined ? { 'cloud-init': fields['cloud-init'] } : {}) };
        this.store.save();
        return { status: 200 };
      }),
      route('PATCH', `${base}/bootparameters`, ({ body }) => {
        const { hosts, ...fields } = this.body(body);
        const missing = hosts.filter((h) => !this.entries[h]);
        if (missing.length) throw problem(404, 'Not Found', `Cannot update boot parameters: no entry for ${missing.join(', ')}`);
        for (const host of hosts) {
          const entry = this.entries[host];
          if (fields.params !== undefined) entry.params = fields.params;
          if (fields.kernel !== undefined) entry.kernel = fields.kernel;
          if (fields.initrd !== undefined) entry.initrd = fields.initrd;
          if (fields['cloud-init'] !== undefined) entry['cloud-init'] = fields['cloud-init'];
        }
        this.store.save();
        return { status: 200 };
      }),
      route('POST', `${base}/bootparameters`, ({ body }) => {
        const { hosts, ...fields } = this.body(body);
        const existing = hosts.filter((h) => this.entries[h]);
        if (existing.length) throw problem(400, 'Bad Request', `Boot parameters already exist for ${existing.join(', ')}`);
        for (const host of hosts) this.entries[host] = { params: fields.params ?? '', kernel: fields.kernel ?? '', initrd: fields.initrd ?? '', ...(fields['cloud-init'] !== undefined ? { 'cloud-init': fields['cloud-init'] } : {}) };
        this.store.save();
        return { status: 201 };
      }),
      route('DELETE', `${base}/bootparameters`, ({ body }) => {
        const { hosts } = this.body(body);
        const missing = hosts.filter((h) => !this.entries[h]);
        if (missing.length) throw problem(404, 'Not Found', `No boot parameters for ${missing.join(', ')}`);
        for (const host of hosts) delete this.entries[host];
        this.store.save();
        return { status: 200 };
      }),
      route('GET', `${base}/bootscript`, ({ query }) => {
        const host = query.get('name') ?? '';
        const entry = this.entries[host];
        if (!entry) throw problem(404, 'Not Found', `No boot parameters for ${host || '(no name given)'}`);
        return { status: 200, contentType: 'text/plain', body: renderBootscript(entry) };
      }),
      route('GET', `${base}/service/status`, () => ({ status: 200, body: { bss_status: 'running' } })),
    ];
  }

  private body(raw: unknown): BootParamsBody & { hosts: string[] } {
    const body = requireObject(raw) as BootParamsBody;
    if (!Array.isArray(body.hosts) || body.hosts.length === 0 || body.hosts.some((h) => typeof h !== 'string' || !h)) {
      throw problem(400, 'Bad Request', 'hosts must be a non-empty list of host names');
    }
    return body as BootParamsBody & { hosts: string[] };
  }

  private get({ query }: Request) {
    const names = query.get('name')?.split(',').filter(Boolean);
    const hosts = names ?? Object.keys(this.entries);
    const found = hosts.filter((h) => this.entries[h]).map((h) => ({ hosts: [h], ...this.entries[h] }));
    if (names && found.length === 0) throw problem(404, 'Not Found', `No boot parameters for ${names.join(', ')}`);
    return found;
  }
}

function renderBootscript(entry: BootParameters): string {
  return ['#!ipxe', `kernel --name kernel ${entry.kernel} ${entry.params} initrd=initrd`, `initrd --name initrd ${entry.initrd}`, 'boot', ''].join('\n');
}
