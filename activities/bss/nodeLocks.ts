// One change at a time per node. Each workflow holding nodes (a rollout, whose id is its change id, or a
// rollback of a change) has one claim record in S3 beside the snapshots, naming the change, itself and its
// nodes (folded). A claim writes its record, then reads every other one: if a workflow that still runs
// claims any of the same nodes, the claim is withdrawn and refused naming its change and those nodes. Two
// workflows claiming overlapping nodes at the same moment may both be refused, never both admitted.
// Records of workflows that no longer run (a terminated rollout) are stale and removed.
// One record per claim, not per node: a 10,000-node rollout costs a few requests, not 20,000.
import { z } from 'zod';
import { FailureType, permanentFailure } from '../../lib/failures';
import { expandNodeset, foldNodeset } from '../../lib/nodeset';
import type { ObjectStore } from '../manifest/objectStore';

/** `holder`: the workflow id holding the nodes, when it is not the change id (a rollback's). */
const Claim = z.object({ changeId: z.string(), holder: z.string().optional(), owner: z.string(), at: z.string(), nodes: z.string() }).strict();
type Claim = z.output<typeof Claim>;
const holderOf = (claim: Claim) => claim.holder ?? claim.changeId;

export class NodeLocks {
  constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
    /** Whether a workflow still runs (a claim of one that does not is stale). */
    private readonly isRunning: (workflowId: string) => Promise<boolean>,
  ) {}

  private get directory(): string {
    return `${this.prefix.replace(/\/+$/, '')}/node-claims/`;
  }

  pathFor(holder: string): string {
    return `${this.directory}${encodeURIComponent(holder)}.json`;
  }

  /**
   * Claims every node for the change, or none: refused (NodesHeld) naming each holder's change id and
   * its nodes. `holder` is the claiming workflow (the rollout's id is the change id); nodes held by
   * `takeOverFrom` are taken over even while it runs (a rollback started by its rollout).
   */
  async claim(changeId: string, owner: string, nodes: string[], { holder = changeId, takeOverFrom }: { holder?: string; takeOverFrom?: string } = {}): Promise<void> {
    const own = this.pathFor(holder);
    const record: Claim = { changeId, ...(holder === changeId ? {} : { holder }), owner, at: new Date().toISOString(), nodes: foldNodeset(nodes) };
    await this.store.putJson(own, record);
    const wanted = new Set(nodes);
    const held: { changeId: string; nodes: string[] }[] = [];
    for (const url of await this.store.list(this.directory)) {
      if (url === own) continue;
      const read = await this.store.getVersioned(url);
      if (!read) continue; // released meanwhile
      const other = Claim.parse(JSON.parse(read.text));
      if (holderOf(other) === takeOverFrom) continue;
      const overlap = expandNodeset(other.nodes).filter((node) => wanted.has(node));
      if (!overlap.length) continue;
      if (await this.isRunning(holderOf(other))) held.push({ changeId: other.changeId, nodes: overlap });
      else await this.store.delete(url);
    }
    if (held.length) {
      await this.release(holder);
      const holders = held.map((h) => `change ${h.changeId} holds ${foldNodeset(h.nodes)}`);
      throw permanentFailure(FailureType.NodesHeld, `another rollout is changing these nodes: ${holders.join('; ')}`, { holders: held.map((h) => h.changeId) });
    }
  }

  /** Releases the nodes this workflow holds (a rollout: its change id); other claims stay. */
  async release(holder: string): Promise<void> {
    await this.store.delete(this.pathFor(holder));
  }
}
