// CFS v3 configurations and sessions through the API gateway.
import type { CsmClient } from '../csm/client';

export interface CfsLayer {
  name?: string;
  clone_url: string;
  playbook: string;
  commit?: string;
  branch?: string;
}

export interface CfsConfiguration {
  name: string;
  layers: CfsLayer[];
  last_updated?: string;
}

export interface CfsArtifact {
  image_id?: string;
  result_id?: string;
  type?: string;
}

export interface CfsSession {
  name: string;
  configuration?: { name?: string; limit?: string };
  target?: { definition?: string; groups?: { name: string; members: string[] }[]; image_map?: { source_id: string; result_name: string }[] };
  status?: {
    artifacts?: CfsArtifact[];
    session?: { status?: 'pending' | 'running' | 'complete'; succeeded?: 'none' | 'true' | 'false' | 'unknown'; start_time?: string; completion_time?: string; job?: string };
  };
  tags?: Record<string, string>;
}

const base = '/apis/cfs/v3';

export class CfsClient {
  constructor(private readonly csm: CsmClient) {}

  getConfiguration(name: string): Promise<CfsConfiguration> {
    return this.csm.request('GET', `${base}/configurations/${encodeURIComponent(name)}`);
  }

  putConfiguration(name: string, layers: CfsLayer[]): Promise<CfsConfiguration> {
    return this.csm.request('PUT', `${base}/configurations/${encodeURIComponent(name)}`, { layers });
  }

  createSession(session: { name: string; configuration_name: string; target: CfsSession['target']; tags?: Record<string, string> }): Promise<CfsSession> {
    return this.csm.request('POST', `${base}/sessions`, session);
  }

  getSession(name: string): Promise<CfsSession> {
    return this.csm.request('GET', `${base}/sessions/${encodeURIComponent(name)}`);
  }

  deleteSession(name: string): Promise<void> {
    return this.csm.request('DELETE', `${base}/sessions/${encodeURIComponent(name)}`);
  }
}
