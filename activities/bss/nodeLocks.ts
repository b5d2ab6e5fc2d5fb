// One change at a time per node. Each node's lock is an S3 object beside the snapshots, created only
// if absent (If-None-Match: *) and naming the change holding it and the workflow doing it (the rollout,
// or a rollback of the change); a lock whose workflow no longer runs (a terminated rollout) is taken
// over, conditional on the etag read, so two claimants cannot both win.
import { z } from 'zod';
import { FailureType, permanentFailure } from '../../lib/failures';
import { foldNodeset } from '../../lib/nodeset';
import { ObjectChanged, type ObjectStore } from '../manifest/objectStore';

/** `holder`: the workflow id holding the lock, when it is not the change id (a rollback's). */
const NodeLock = z.object({ changeId: z.string(), holder: z.string().optional(), owner: z.string(), at: z.string() }).strict();
type NodeLock = z.output<typeof NodeLock>;

/** Locks claimed or released at once. */
const parallel = 32;

async function eachInPool<T>(items: T[], run: (item: T) => Promise<void>, onProgress: (done: number, total: number) => void): Promise<void> {
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) {
        await run(items[next++]);
        onProgress(++done, items.length);
      }
    }),
  );
}

export class NodeLocks {
  constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
    /** Whether a workflow still runs (a lock held by one that does not is stale). */
    private readonly isRunning: (workflowId: string) => Promise<boolean>,
    private readonly onProgress: (done: number, total: number) => void = () => {},
  ) {}

  pathFor(node: string): string {
    return `${this.prefix.replace(/\/+$/, '')}/node-locks/${encodeURIComponent(node)}.json`;
  }

  private async holder(node: string): Promise<{ lock: NodeLock; etag: string } | null> {
    const read = await this.store.getVersioned(this.pathFor(node));
    return read && { lock: NodeLock.parse(JSON.parse(read.text)), etag: read.etag };
  }

  /**
   * Claims every node for the change, or none: refused (NodesHeld) naming each holder's change id and
   * its nodes. `holder` is the claiming workflow (the rollout's id is the change id); locks held by
   * `takeOverFrom` are taken over even while it runs (a rollback started by its rollout).
   */
  async claim(changeId: string, owner: string, nodes: string[], { holder = changeId, takeOverFrom }: { holder?: string; takeOverFrom?: string } = {}): Promise<void> {
    const held = new Map<string, string[]>();
    const lock: NodeLock = { changeId, ...(holder === changeId ? {} : { holder }), owner, at: new Date().toISOString() };
    const claimOne = async (node: string): Promise<void> => {
      try {
        await this.store.putJson(this.pathFor(node), lock, { ifAbsent: true });
        return;
      } catch (error) {
        if (!(error instanceof ObjectChanged)) throw error;
      }
      const current = await this.holder(node);
      if (!current) return claimOne(node);
      const currentHolder = holderOf(current.lock);
      if (currentHolder === holder) return;
      if (currentHolder !== takeOverFrom && (await this.isRunning(currentHolder))) {
        held.set(current.lock.changeId, [...(held.get(current.lock.changeId) ?? []), node]);
        return;
      }
      try {
        await this.store.putJson(this.pathFor(node), lock, { ifMatch: current.etag });
      } catch (error) {
        if (!(error instanceof ObjectChanged)) throw error;
        return claimOne(node);
      }
    };
    await eachInPool(nodes, claimOne, this.onProgress);
    if (held.size) {
      await this.release(holder, nodes);
      const holders = [...held].map(([holder, theirs]) => `change ${holder} holds ${foldNodeset(theirs)}`);
      throw permanentFailure(FailureType.NodesHeld, `another rollout is changing these nodes: ${holders.join('; ')}`, { holders: [...held.keys()] });
    }
  }

  /** Releases the nodes this workflow holds (a rollout: its change id); locks of others stay. */
  async release(holder: string, nodes: string[]): Promise<void> {
    await eachInPool(nodes, async (node) => {
      const current = await this.holder(node);
      if (current && holderOf(current.lock) === holder) await this.store.delete(this.pathFor(node));
    }, this.onProgress);
  }
}

const holderOf = (lock: NodeLock) => lock.holder ?? lock.changeId;
