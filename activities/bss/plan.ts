// What each node's entry becomes: the rewrite of its snapshot entry, or of `baseParams` for a node
// with no entry when the missing-host policy allows creating one.
import { rewriteBootFields, isEmptyDiff, type BootChange, type BootDiff, type BootFields, type Rewrite } from '../../lib/bootParams';
import { FailureType, permanentFailure } from '../../lib/failures';
import { foldNodeset } from '../../lib/nodeset';
import type { MissingHostPolicy } from '../../lib/specs/bootParamsSpec';
import type { BssEntry } from './client';
import { entryOf, type BssSnapshot } from './snapshot';
import { canonicalJson } from './writes';

export interface RolloutChange extends BootChange {
  missingHosts: MissingHostPolicy;
  baseParams?: string;
}

export interface PlannedEntry extends Rewrite {
  /** The node has no BSS entry: it will be created. */
  create: boolean;
}

/** Nodes whose entries change the same way, as a ClusterShell node set. */
export interface DiffGroup {
  nodes: string;
  count: number;
  create: boolean;
  diff: BootDiff;
}

const bootFields = (entry: BssEntry): BootFields => ({ kernel: entry.kernel ?? '', initrd: entry.initrd ?? '', params: entry.params ?? '' });

export function planEntry(before: BssEntry | null, change: RolloutChange): PlannedEntry {
  if (before) return { ...rewriteBootFields(bootFields(before), change), create: false };
  const planned = { ...rewriteBootFields({ kernel: '', initrd: '', params: change.baseParams ?? '' }, change), create: true };
  if (change.missingHosts === 'refuse') return { ...planned, problems: ['has no BSS entry (an unknown xname? missingHosts is "refuse")'] };
  return { ...planned, problems: planned.problems.map((problem) => `has no BSS entry, and baseParams: ${problem}`) };
}

/** Plans the given nodes of a snapshot; refuses (non-retryable, listing every node and reason) when any cannot boot the image. */
export function planNodes(snapshot: BssSnapshot, nodes: string[], change: RolloutChange): Map<string, PlannedEntry> {
  // Nodes mostly share their entries: each distinct one is rewritten once, and its nodes share the plan.
  const planned = new Map<string, PlannedEntry>();
  const planOf = (before: BssEntry | null) => {
    const key = before ? JSON.stringify(bootFields(before)) : 'none';
    return planned.get(key) ?? planned.set(key, planEntry(before, change)).get(key)!;
  };
  const plans = new Map(nodes.map((node) => [node, planOf(entryOf(snapshot, node))]));
  const problems = [...plans].flatMap(([node, plan]) => plan.problems.map((problem) => ({ node, problem })));
  if (problems.length) {
    const byProblem = new Map<string, string[]>();
    for (const { node, problem } of problems) byProblem.set(problem, [...(byProblem.get(problem) ?? []), node]);
    const listed = [...byProblem].map(([problem, affected]) => `${foldNodeset(affected)}: ${problem}`);
    throw permanentFailure(FailureType.InvalidInput, `${new Set(problems.map((p) => p.node)).size} node(s) cannot boot ${change.image.manifestPath}: ${listed.join('; ')}`, { problems: listed });
  }
  return plans;
}

export function diffGroups(plans: Map<string, PlannedEntry>): DiffGroup[] {
  const groups = new Map<string, { nodes: string[]; create: boolean; diff: BootDiff }>();
  const keys = new Map<PlannedEntry, string>();
  for (const [node, plan] of plans) {
    if (!plan.create && isEmptyDiff(plan.diff)) continue;
    const key = keys.get(plan) ?? keys.set(plan, canonicalJson({ create: plan.create, diff: plan.diff })).get(plan)!;
    const group = groups.get(key) ?? groups.set(key, { nodes: [], create: plan.create, diff: plan.diff }).get(key)!;
    group.nodes.push(node);
  }
  return [...groups.values()].map(({ nodes, create, diff }) => ({ nodes: foldNodeset(nodes), count: nodes.length, create, diff }));
}
