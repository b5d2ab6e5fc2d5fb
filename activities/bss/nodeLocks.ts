// One rollout at a time per node. Each node's lock is an S3 object beside the snapshots, created only
// if absent (If-None-Match: *) and naming the change holding it; a lock whose change no longer runs
// (a terminated rollout) is taken over, conditional on the etag read, so two claimants cannot both win.
import { z } from 'zod';
import { FailureType, permanentFailure } from '../../lib/failures';
import { foldNodeset } from '../../lib/nodeset';
import { ObjectChanged, type ObjectStore } from '../manifest/objectStore';

const NodeLock = z.object({ changeId: z.string(), owner: z.string(), at: z.string() }).strict();
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
    /** Whether the workflow of a change id still runs (a lock of one that does not is stale). */
    private readonly isRunning: (changeId: string) => Promise<boolean>,
    private readonly onProgress: (done: number, total: number) => void = () => {},
  ) {}

  pathFor(node: string): string {
    return `${this.prefix.replace(/\/+$/, '')}/node-locks/${encodeURIComponent(node)}.json`;
  }

  private async holder(node: string): Promise<{ lock: NodeLock; etag: string } | null> {
    const read = await this.store.getVersioned(this.pathFor(node));
    return read && { lock: NodeLock.parse(JSON.parse(read.text)), etag: read.etag };
  }

  /** Claims every node for the change, or none: refused (NodesHeld) naming each holder's change id and its nodes. */
  async claim(changeId: string, owner: string, nodes: string[]): Promise<void> {
    const held = new Map<string, string[]>();
    const lock: NodeLock = { changeId, owner, at: new Date().toISOString() };
    const claimOne = async (node: string): Promise<void> => {
      try {
        await this.store.putJson(this.pathFor(node), lock, { ifAbsent: true });
        return;
      } catch (error) {
        if (!(error instanceof ObjectChanged)) throw error;
      }
      const current = await this.holder(node);
      if (!current) return claimOne(node);
      if (current.lock.changeId === changeId) return;
      if (await this.isRunning(current.lock.changeId)) {
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
      await this.release(changeId, nodes);
      const holders = [...held].map(([holder, theirs]) => `change ${holder} holds ${foldNodeset(theirs)}`);
      throw permanentFailure(FailureType.NodesHeld, `another rollout is changing these nodes: ${holders.join('; ')}`, { holders: [...held.keys()] });
    }
  }

  /** Releases the nodes this change holds; locks of other changes stay. */
  async release(changeId: string, nodes: string[]): Promise<void> {
    await eachInPool(nodes, async (node) => {
      const current = await this.holder(node);
      if (current?.lock.changeId === changeId) await this.store.delete(this.pathFor(node));
    }, this.onProgress);
  }
}
