// The simulator's state in one JSON file, written atomically (temporary file, then rename) after
// every change, so it survives a restart of the simulator.
import fs from 'node:fs';
import path from 'node:path';

export interface SimState {
  images: Record<string, ImageRecord>;
  deletedImages: Record<string, ImageRecord & { deleted: string }>;
  configurations: Record<string, CfsConfiguration>;
  sessions: Record<string, CfsSession>;
  bootParameters: Record<string, BootParameters>;
}

export interface ImageRecord {
  id: string;
  name: string;
  created: string;
  arch: 'x86_64' | 'aarch64';
  link?: { path: string; etag?: string; type: string };
  metadata: Record<string, string>;
}

export interface CfsLayer {
  name?: string;
  clone_url: string;
  playbook: string;
  commit?: string;
  branch?: string;
}

export interface CfsConfiguration {
  name: string;
  description?: string;
  last_updated: string;
  layers: CfsLayer[];
}

export interface CfsSession {
  name: string;
  configuration: { name: string; limit: string };
  ansible: { config: string; limit: string; verbosity: number; passthrough: string };
  target: { definition: string; groups: { name: string; members: string[] }[]; image_map: { source_id: string; result_name: string }[] };
  status: {
    artifacts: { image_id: string; result_id: string; type: string }[];
    session: { job?: string; ims_job?: string; status: 'pending' | 'running' | 'complete'; succeeded: 'none' | 'true' | 'false' | 'unknown'; start_time: string; completion_time?: string };
  };
  tags: Record<string, string>;
  debug_on_failure: boolean;
  /** Simulator only, never served: ansible log, and the faults this session was started under. */
  logs?: string;
  hang?: true;
  etaglessResult?: true;
}

export interface BootParameters {
  params: string;
  kernel: string;
  initrd: string;
  'cloud-init'?: unknown;
}

const empty = (): SimState => ({ images: {}, deletedImages: {}, configurations: {}, sessions: {}, bootParameters: {} });

export class StateFile {
  readonly state: SimState;
  private readonly file: string;

  constructor(dataDir: string) {
    fs.mkdirSync(dataDir, { recursive: true });
    this.file = path.join(dataDir, 'state.json');
    this.state = fs.existsSync(this.file) ? { ...empty(), ...(JSON.parse(fs.readFileSync(this.file, 'utf8')) as SimState) } : empty();
  }

  save(): void {
    const temporary = `${this.file}.tmp-${process.pid}`;
    fs.writeFileSync(temporary, JSON.stringify(this.state));
    fs.renameSync(temporary, this.file);
  }
}
