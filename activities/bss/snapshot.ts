// BSS snapshots kept in S3, outside BSS and Temporal, so a rollback works even after BSS lost its
// etcd data (seed 004). One object per change id, written once: a retry adopts it, and nothing later
// (a partly applied rollout) can overwrite it.
import { z } from 'zod';
import { FailureType, permanentFailure } from '../../lib/failures';
import { parseS3Url } from '../../lib/manifest';
import type { ObjectStore } from '../manifest/objectStore';
import type { BssEntry } from './client';

export const BssSnapshot = z.object({
  version: z.literal(1),
  changeId: z.string(),
  /** The workflow run that took it; another run may not adopt it. */
  owner: z.string(),
  takenAt: z.string(),
  nodes: z.array(z.string()),
  /** Each node's entry as BSS returned it (without `hosts`), or null when it had none. */
  entries: z.record(z.string(), z.record(z.string(), z.unknown()).nullable()),
});
export type BssSnapshot = z.output<typeof BssSnapshot>;

export const defaultSnapshotPrefix = 's3://ims/bss-changes';

export class SnapshotStore {
  constructor(
    private readonly store: ObjectStore,
    readonly prefix: string = defaultSnapshotPrefix,
  ) {
    parseS3Url(`${prefix.replace(/\/+$/, '')}/x`);
  }

  pathFor(changeId: string): string {
    return `${this.prefix.replace(/\/+$/, '')}/${encodeURIComponent(changeId)}/snapshot.json`;
  }

  async read(changeId: string): Promise<BssSnapshot | null> {
    const snapshotPath = this.pathFor(changeId);
    if (!(await this.store.head(snapshotPath))) return null;
    const parsed = BssSnapshot.safeParse(JSON.parse(await this.store.getText(snapshotPath)));
    if (!parsed.success) throw permanentFailure(FailureType.InvalidInput, `${snapshotPath} is not a BSS snapshot: ${parsed.error.message}`);
    return parsed.data;
  }

  async require(changeId: string): Promise<BssSnapshot> {
    const snapshot = await this.read(changeId);
    if (!snapshot) throw permanentFailure(FailureType.InvalidInput, `no BSS snapshot for change ${changeId} at ${this.pathFor(changeId)}`, { changeId });
    return snapshot;
  }

  async write(snapshot: BssSnapshot): Promise<void> {
    await this.store.putJson(this.pathFor(snapshot.changeId), snapshot);
  }
}

export const entryOf = (snapshot: BssSnapshot, node: string): BssEntry | null => (snapshot.entries[node] as BssEntry | null | undefined) ?? null;
