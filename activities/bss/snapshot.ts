// BSS snapshots kept in S3, outside BSS and Temporal, so a rollback works even after BSS lost its
// etcd data (seed 004). One object per change id, written once: a retry adopts it, and nothing later
// (a partly applied rollout) can overwrite it.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { FailureType, permanentFailure } from '../../lib/failures';
import { parseS3Url } from '../../lib/manifest';
import { jsonText, type ObjectStore } from '../manifest/objectStore';
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

/** Parsed snapshots a store keeps: a 10,000-node one is a few MB, and a worker runs a few rollouts at a time. */
const parsedKept = 4;

export class SnapshotStore {
  /**
   * The snapshots parsed last, by path, with the ETag of the version parsed. Every read still asks S3,
   * by a conditional GET: an unchanged object costs a 304, one rewritten or deleted is never served
   * from here. A rollout's batches then do not each fetch and parse the whole snapshot again.
   */
  private readonly parsed = new Map<string, { etag: string; snapshot: BssSnapshot }>();

  constructor(
    private readonly store: ObjectStore,
    readonly prefix: string = defaultSnapshotPrefix,
  ) {
    parseS3Url(`${prefix.replace(/\/+$/, '')}/x`);
  }

  pathFor(changeId: string): string {
    return `${this.prefix.replace(/\/+$/, '')}/${encodeURIComponent(changeId)}/snapshot.json`;
  }

  /** The snapshot as S3 has it now, or null. Callers share the object returned: they must not change it. */
  async read(changeId: string): Promise<BssSnapshot | null> {
    const snapshotPath = this.pathFor(changeId);
    const kept = this.parsed.get(snapshotPath);
    const read = await this.store.getUnlessEtag(snapshotPath, kept?.etag);
    if (read === null) {
      this.parsed.delete(snapshotPath);
      return null;
    }
    let fresh = kept!;
    if (read !== 'unchanged') {
      const parsed = BssSnapshot.safeParse(JSON.parse(read.text));
      if (!parsed.success) throw permanentFailure(FailureType.InvalidInput, `${snapshotPath} is not a BSS snapshot: ${parsed.error.message}`);
      fresh = { etag: read.etag, snapshot: parsed.data };
    }
    this.keep(snapshotPath, fresh);
    return fresh.snapshot;
  }

  async require(changeId: string): Promise<BssSnapshot> {
    const snapshot = await this.read(changeId);
    if (!snapshot) throw permanentFailure(FailureType.InvalidInput, `no BSS snapshot for change ${changeId} at ${this.pathFor(changeId)}`, { changeId });
    return snapshot;
  }

  /**
   * Kept as parsed when S3's ETag is the MD5 of the text written (a single-part PUT without KMS): the
   * object is then byte for byte what was written, even if another writer came between PUT and HEAD.
   */
  async write(snapshot: BssSnapshot): Promise<void> {
    const snapshotPath = this.pathFor(snapshot.changeId);
    const text = jsonText(snapshot);
    const etag = await this.store.putText(snapshotPath, text, 'application/json');
    this.parsed.delete(snapshotPath);
    if (etag === createHash('md5').update(text).digest('hex')) this.keep(snapshotPath, { etag, snapshot });
  }

  private keep(snapshotPath: string, parsed: { etag: string; snapshot: BssSnapshot }): void {
    this.parsed.delete(snapshotPath);
    this.parsed.set(snapshotPath, parsed); // the most recent last
    for (const oldest of [...this.parsed.keys()].slice(0, -parsedKept)) this.parsed.delete(oldest);
  }
}

export const entryOf = (snapshot: BssSnapshot, node: string): BssEntry | null => (snapshot.entries[node] as BssEntry | null | undefined) ?? null;
