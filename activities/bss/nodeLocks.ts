// One rollout at a time per node. Each change that holds nodes has one claim record in S3 beside the
// snapshots, naming its nodes (folded). A claim writes its record, then reads every other claim: if a
// change that still runs claims any of the same nodes, the claim is withdrawn and refused naming it and
// those nodes. Two changes claiming overlapping nodes at the same moment may both be refused, never both
// admitted. Records of changes that no longer run (a terminated rollout) are stale and removed.
// One record per change, not per node: a 10,000-node rollout costs a few requests, not 20,000.
import { z } from 'zod';
import { FailureType, permanentFailure } from '../../lib/failures';
import { expandNodeset, foldNodeset } from '../../lib/nodeset';
import type { ObjectStore } from '../manifest/objectStore';

const Claim = z.object({ changeId: z.string(), owner: z.string(), at: z.string(), nodes: z.string() }).strict();
type Claim = z.output<typeof Claim>;

export class NodeLocks {
  constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
    /** Whether the workflow of a change id still runs (a claim of one that does not is stale). */
    private readonly isRunning: (changeId: string) => Promise<boolean>,
  ) {}

  private get directory(): string {
    return `${this.prefix.replace(/\/+$/, '')}/node-claims/`;
  }

  pathFor(changeId: string): string {
    return `${this.directory}${encodeURIComponent(changeId)}.json`;
  }

  /** Claims every node for the change, or none: refused (NodesHeld) naming each holder's change id and its nodes. */
  async claim(changeId: string, owner: string, nodes: string[]): Promise<void> {
    const own = this.pathFor(changeId);
    await this.store.putJson(own, { changeId, owner, at: new Date().toISOString(), nodes: foldNodeset(nodes) } satisfies Claim);
    const wanted = new Set(nodes);
    const held: { changeId: string; nodes: string[] }[] = [];
    for (const url of await this.store.list(this.directory)) {
      if (url === own) continue;
      const record = await this.store.getVersioned(url);
      if (!record) continue; // released meanwhile
      const other = Claim.parse(JSON.parse(record.text));
      const overlap = expandNodeset(other.nodes).filter((node) => wanted.has(node));
      if (!overlap.length) continue;
      if (await this.isRunning(other.changeId)) held.push({ changeId: other.changeId, nodes: overlap });
      else await this.store.delete(url);
    }
    if (held.length) {
      await this.release(changeId);
      const holders = held.map((h) => `change ${h.changeId} holds ${foldNodeset(h.nodes)}`);
      throw permanentFailure(FailureType.NodesHeld, `another rollout is changing these nodes: ${holders.join('; ')}`, { holders: held.map((h) => h.changeId) });
    }
  }

  /** Releases the nodes this change holds; other changes' claims stay. */
  async release(changeId: string): Promise<void> {
    await this.store.delete(this.pathFor(changeId));
  }
}
