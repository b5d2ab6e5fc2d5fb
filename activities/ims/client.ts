// IMS v3 image records through the API gateway.
import type { CsmClient } from '../csm/client';

export interface ArtifactLink {
  path: string;
  etag?: string | null;
  type: string;
}

export interface ImageRecord {
  id: string;
  name: string;
  created?: string;
  link?: ArtifactLink | null;
  arch?: 'x86_64' | 'aarch64';
  metadata?: Record<string, string>;
}

const base = '/apis/ims/v3';

export class ImsClient {
  constructor(private readonly csm: CsmClient) {}

  listImages(): Promise<ImageRecord[]> {
    return this.csm.request('GET', `${base}/images`);
  }

  getImage(id: string): Promise<ImageRecord> {
    return this.csm.request('GET', `${base}/images/${encodeURIComponent(id)}`);
  }

  /** IMS takes one metadata pair at creation (ImageCreateRecord.metadata is `{key, value}`). */
  createImage(record: { name: string; arch?: ImageRecord['arch']; metadata?: { key: string; value: string } }): Promise<ImageRecord> {
    return this.csm.request('POST', `${base}/images`, record);
  }

  patchImage(id: string, patch: { link?: ArtifactLink; arch?: ImageRecord['arch'] }): Promise<ImageRecord> {
    return this.csm.request('PATCH', `${base}/images/${encodeURIComponent(id)}`, patch);
  }
}
