// Boot parameter activities: check the image, snapshot BSS to S3, plan, apply one batch, restore.
// Each is idempotent: it compares BSS with what it wants before writing, so a retry after a crash
// only does what is left. Results carry counts and node sets, never params of thousands of nodes.
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { BootImage } from '../../lib/bootParams';
import { FailureType, permanentFailure, transientFailure } from '../../lib/failures';
import { MediaType, rootfsArtifact, stripQuotes } from '../../lib/manifest';
import { entryReferencesImage, imageReferencePattern, type ImageMarks } from '../../lib/imageReferences';
import { foldNodeset } from '../../lib/nodeset';
import { callService } from '../csm/failures';
import { readManifestAt } from '../manifest/activities';
import type { ObjectStore } from '../manifest/objectStore';
import type { BssClient, BssEntry } from './client';
import { NodeLocks } from './nodeLocks';
import { diffGroups, planNodes, type DiffGroup, type RolloutChange } from './plan';
import { entryOf, type BssSnapshot, type SnapshotStore } from './snapshot';
import { sameEntry, writeEntries, type EntryFields } from './writes';

export interface SnapshotSummary {
  changeId: string;
  snapshotPath: string;
  nodes: number;
  /** Nodes that had no entry, as a node set ('' when none). */
  withoutEntry: string;
  /** An earlier attempt of the same run had already taken it. */
  adopted: boolean;
}

export interface PlanSummary {
  groups: DiffGroup[];
  changing: number;
  unchanged: number;
}

export interface BatchReport {
  nodes: string;
  count: number;
  changed: number;
  created: string;
  writes: number;
}

export interface NodesBooting {
  count: number;
  /** The first of them, sorted, for messages. */
  first: string[];
}

export interface RestoreReport {
  changeId: string;
  snapshotPath: string;
  nodes: number;
  restored: number;
  recreated: string;
  deleted: string;
  unchanged: number;
  writes: number;
}

const sameBootFields = (entry: BssEntry | undefined, fields: EntryFields) =>
  entry !== undefined && entry.kernel === fields.kernel && entry.initrd === fields.initrd && entry.params === fields.params;

/** The fields PATCH/POST can set, from a snapshot entry: cloud-init only when it had some. */
const restorableFields = (entry: BssEntry): EntryFields => ({
  kernel: entry.kernel,
  initrd: entry.initrd,
  params: entry.params,
  ...('cloud-init' in entry ? { 'cloud-init': entry['cloud-init'] } : {}),
});

const heartbeat = (nodesDone: number, nodesTotal: number) => Context.current().heartbeat({ nodesDone, nodesTotal });

/** Whether a lock's holder (a rollout, whose id is the change id, or a rollback) runs: asked of Temporal through the worker's client. */
async function workflowIsRunning(workflowId: string): Promise<boolean> {
  try {
    return (await Context.current().client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/** `lockPrefix`: where the node locks live, beside the snapshots by default. */
export function createBssActivities(deps: { bss: BssClient; snapshots: SnapshotStore; store: ObjectStore; lockPrefix?: string }) {
  const { bss, snapshots, store } = deps;
  const locks = new NodeLocks(store, deps.lockPrefix ?? snapshots.prefix, workflowIsRunning);

  function nodesOf(snapshot: BssSnapshot, nodes: string[] | undefined): string[] {
    if (!nodes) return snapshot.nodes;
    const known = new Set(snapshot.nodes);
    const unknown = nodes.filter((node) => !known.has(node));
    if (unknown.length) throw permanentFailure(FailureType.InvalidInput, `not in the snapshot of change ${snapshot.changeId}: ${foldNodeset(unknown)}`);
    return nodes;
  }

  return {
    /**
     * The artifacts to boot, from the image's manifest. The rootfs etag goes into `root=`, so it must
     * be present and equal to S3's; anything else is non-retryable and nothing is changed.
     */
    async resolveBootImage(input: { manifestPath: string; imageId?: string }): Promise<BootImage> {
      const { manifestPath } = input;
      const invalid = (reason: string) => permanentFailure(FailureType.ManifestInvalid, `${manifestPath}: ${reason}`, { manifestPath });
      const { manifest, invalid: problems } = await readManifestAt(store, manifestPath);
      if (!manifest) throw invalid(problems.join('; '));
      const rootfs = rootfsArtifact(manifest)!;
      const linkOf = (type: string) => {
        const artifact = manifest.artifacts.find((a) => a.type === type);
        if (!artifact) throw invalid(`no ${type} artifact`);
        return artifact.link.path;
      };
      const [kernel, initrd] = [linkOf(MediaType.kernel), linkOf(MediaType.initrd)];
      if (!rootfs.link.etag) {
        throw permanentFailure(FailureType.ManifestEtagFault, `${manifestPath}: the rootfs ${rootfs.link.path} has no etag, which root= must carry (repair the manifest first: repairManifests)`, { manifestPath });
      }
      const head = await store.head(rootfs.link.path);
      if (!head) throw invalid(`the rootfs ${rootfs.link.path} does not exist`);
      if (head.etag !== stripQuotes(rootfs.link.etag)) {
        throw permanentFailure(FailureType.ManifestEtagFault, `${manifestPath}: the rootfs etag ${rootfs.link.etag} is not S3's ${head.etag} (repair the manifest first: repairManifests)`, { manifestPath });
      }
      const luks = manifest.artifacts.find((a) => a.type === MediaType.rootfsLuks && a.link.etag);
      return {
        imageId: input.imageId,
        manifestPath,
        kernel,
        initrd,
        rootfs: { path: rootfs.link.path, etag: head.etag },
        ...(luks ? { luks: { path: luks.link.path, etag: stripQuotes(luks.link.etag!) } } : {}),
      };
    },

    /** The nodes whose BSS entry still boots the image (kernel, initrd or params name it): all of BSS is read. */
    async nodesBootingImage(input: ImageMarks & { show: number }): Promise<NodesBooting> {
      const pattern = imageReferencePattern(input);
      const entries = await callService('BSS', () => bss.all());
      const nodes = [...new Set(entries.filter((entry) => entryReferencesImage(entry, pattern)).flatMap((entry) => entry.hosts ?? []))].sort();
      return { count: nodes.length, first: nodes.slice(0, input.show) };
    },

    /** One change at a time per node: claims all the nodes for the change, or refuses naming who holds them (see NodeLocks.claim). */
    async claimNodes(input: { changeId: string; owner: string; nodes: string[]; holder?: string; takeOverFrom?: string }): Promise<void> {
      await locks.claim(input.changeId, input.owner, input.nodes, { holder: input.holder, takeOverFrom: input.takeOverFrom });
    },

    async releaseNodes(input: { changeId: string; holder?: string }): Promise<void> {
      await locks.release(input.holder ?? input.changeId);
    },

    /** The nodes a rollback of the change restores: the given ones (each in the snapshot), or all of the snapshot's. */
    async nodesOfChange(input: { changeId: string; nodes?: string[] }): Promise<string[]> {
      return nodesOf(await snapshots.require(input.changeId), input.nodes);
    },

    /** Every node's entry, stored once in S3 under the change id; a retry of the same run adopts it. */
    async snapshotBootParameters(input: { changeId: string; owner: string; nodes: string[] }): Promise<SnapshotSummary> {
      const summary = (snapshot: BssSnapshot, adopted: boolean): SnapshotSummary => ({
        changeId: snapshot.changeId,
        snapshotPath: snapshots.pathFor(snapshot.changeId),
        nodes: snapshot.nodes.length,
        withoutEntry: foldNodeset(snapshot.nodes.filter((node) => entryOf(snapshot, node) === null)),
        adopted,
      });
      const existing = await snapshots.read(input.changeId);
      if (existing) {
        if (existing.owner !== input.owner) {
          throw permanentFailure(FailureType.InvalidInput, `change ${input.changeId} already has a snapshot, taken by ${existing.owner}: start this rollout under another workflow id`, { changeId: input.changeId });
        }
        return summary(existing, true);
      }
      const entries = await callService('BSS', () => bss.getEntries(input.nodes));
      const snapshot: BssSnapshot = {
        version: 1,
        changeId: input.changeId,
        owner: input.owner,
        takenAt: new Date().toISOString(),
        nodes: input.nodes,
        entries: Object.fromEntries(input.nodes.map((node) => [node, entries.get(node) ?? null])),
      };
      await snapshots.write(snapshot);
      return summary(snapshot, false);
    },

    /** Each node's change, grouped by identical diffs (the dry run's output); refuses nodes that cannot boot the image. */
    async planBootParameters(input: { changeId: string; change: RolloutChange }): Promise<PlanSummary> {
      const snapshot = await snapshots.require(input.changeId);
      const groups = diffGroups(planNodes(snapshot, snapshot.nodes, input.change));
      const changing = groups.reduce((sum, group) => sum + group.count, 0);
      return { groups, changing, unchanged: snapshot.nodes.length - changing };
    },

    /**
     * Applies the change to one batch: one PATCH per group of identical new entries, skipping entries
     * already right. Each entry must still be as the snapshot has it (or as this change makes it, from
     * an earlier try): a node someone changed since the snapshot is not overwritten, and the batch is
     * refused naming them before anything is written.
     */
    async applyBootParameters(input: { changeId: string; nodes: string[]; change: RolloutChange }): Promise<BatchReport> {
      const snapshot = await snapshots.require(input.changeId);
      const plans = planNodes(snapshot, nodesOf(snapshot, input.nodes), input.change);
      return callService('BSS', async () => {
        const current = await bss.getEntries(input.nodes);
        const edited = [...plans].flatMap(([node, plan]) => {
          const now = current.get(node);
          const before = entryOf(snapshot, node);
          if (sameBootFields(now, plan.entry)) return [];
          if (before ? sameBootFields(now, restorableFields(before)) : now === undefined) return [];
          return [node];
        });
        if (edited.length) {
          throw permanentFailure(
            FailureType.ChangedSinceSnapshot,
            `${edited.length} node(s) changed in BSS since the snapshot of change ${input.changeId}, not overwritten: ${foldNodeset(edited)}`,
            { nodes: foldNodeset(edited) },
          );
        }
        const wanted = new Map([...plans].filter(([node, plan]) => !sameBootFields(current.get(node), plan.entry)).map(([node, plan]) => [node, plan.entry]));
        const report = await writeEntries(bss, wanted, (host) => {
          if (entryOf(snapshot, host)) return 'its entry disappeared after the snapshot was taken';
          return input.change.missingHosts === 'create' ? undefined : 'missingHosts is "refuse"';
        }, heartbeat);
        return { nodes: foldNodeset(input.nodes), count: input.nodes.length, changed: wanted.size, created: foldNodeset(report.created), writes: report.writes };
      });
    },

    /**
     * Puts every given node (all of the snapshot's by default) back as the snapshot has it: PATCH, or
     * POST when the entry is gone (a BSS data loss); deletes entries the snapshot did not have. Then
     * checks by GET that each entry equals the snapshot exactly.
     */
    async restoreBootParameters(input: { changeId: string; nodes?: string[] }): Promise<RestoreReport> {
      const snapshot = await snapshots.require(input.changeId);
      const nodes = nodesOf(snapshot, input.nodes);
      return callService('BSS', async () => {
        const current = await bss.getEntries(nodes);
        const wanted = new Map<string, EntryFields>();
        const toDelete: string[] = [];
        for (const node of nodes) {
          const before = entryOf(snapshot, node);
          if (!before) {
            if (current.has(node)) toDelete.push(node);
          } else if (!sameEntry(current.get(node), before)) wanted.set(node, restorableFields(before));
        }
        const report = await writeEntries(bss, wanted, () => undefined, heartbeat);
        if (toDelete.length) await bss.delete(toDelete);
        const after = await bss.getEntries(nodes);
        const diverged = nodes.filter((node) => !sameEntry(after.get(node), entryOf(snapshot, node)));
        if (diverged.length) {
          throw transientFailure(FailureType.ValidationFailed, `after the restore, ${diverged.length} BSS entries still differ from the snapshot of change ${input.changeId}: ${foldNodeset(diverged)}`, { changeId: input.changeId });
        }
        return {
          changeId: input.changeId,
          snapshotPath: snapshots.pathFor(input.changeId),
          nodes: nodes.length,
          restored: report.patched,
          recreated: foldNodeset(report.created),
          deleted: foldNodeset(toDelete),
          unchanged: nodes.length - wanted.size - toDelete.length,
          writes: report.writes + (toDelete.length ? 1 : 0),
        };
      });
    },
  };
}

export type BssActivities = ReturnType<typeof createBssActivities>;
