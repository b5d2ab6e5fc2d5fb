// rollbackBootParameters: puts BSS entries back as the S3 snapshot of a change has them, and checks
// by GET that each equals the snapshot exactly. Started by updateBootParameters when a rollout fails
// or is cancelled, or alone from a change id (e.g. after BSS lost its etcd data, seed 004). It holds
// the nodes as a rollout does: refused (NodesHeld) while another change, or the change's own rollout
// when it did not start this rollback, holds any of them.
import { CancellationScope, patched, workflowInfo } from '@temporalio/workflow';
import type { RestoreReport } from '../activities/bss/activities';
import { RollbackBootParametersSpec } from '../lib/specs/bootParamsSpec';
import { bootParameterActivities as bss } from './support/activities';
import { attempt } from './support/attempt';
import { parseInput } from './support/input';
import { countRollback } from './support/metrics';
import { trackStatus } from './support/status';

export async function rollbackBootParameters(raw: unknown): Promise<RestoreReport> {
  const spec = await parseInput(RollbackBootParametersSpec, raw, 'rollback spec');
  const status = trackStatus('boot-params-rollback');
  status.detail('changeId', spec.changeId);
  const { changeId } = spec;
  const { workflowId, runId, parent } = workflowInfo();
  const claim = patched('rollback-claims-nodes');
  const nodes = claim ? await claimNodes(changeId, workflowId, `${workflowId}/${runId}`, spec.nodes, parent?.workflowId, status) : spec.nodes;
  try {
    status.step('restore and verify');
    // Waits for BSS as long as the retry budget says: a rollout that gave up on a BSS outage starts this.
    const report = await attempt('restore BSS entries from the snapshot', (label) => bss(label).restoreBootParameters({ changeId, nodes })).catch((error: unknown) => {
      countRollback('failed');
      throw error;
    });
    countRollback('completed');
    status.step('done');
    return report;
  } finally {
    if (claim && nodes) await CancellationScope.nonCancellable(() => attempt('release nodes', (label) => bss(label).releaseNodes({ changeId, holder: workflowId }), { budgetMs: 60_000 })).catch(() => undefined);
  }
}

/** The nodes to restore, claimed for this rollback; the rollout that started it hands its claim over. */
async function claimNodes(changeId: string, holder: string, owner: string, given: string[] | undefined, parentId: string | undefined, status: ReturnType<typeof trackStatus>): Promise<string[]> {
  status.step('claim nodes');
  const nodes = await attempt('read the nodes of the change', (label) => bss(label).nodesOfChange({ changeId, nodes: given }));
  await attempt('claim nodes', (label) => bss(label).claimNodes({ changeId, holder, owner, nodes, takeOverFrom: parentId === changeId ? changeId : undefined }));
  return nodes;
}
