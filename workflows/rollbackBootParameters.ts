// rollbackBootParameters: puts BSS entries back as the S3 snapshot of a change has them, and checks
// by GET that each equals the snapshot exactly. Started by updateBootParameters when a rollout fails
// or is cancelled, or alone from a change id (e.g. after BSS lost its etcd data, seed 004).
import type { RestoreReport } from '../activities/bss/activities';
import { RollbackBootParametersSpec } from '../lib/specs/bootParamsSpec';
import { bootParameterActivities } from './support/activities';
import { attempt } from './support/attempt';
import { parseInput } from './support/input';
import { countRollback } from './support/metrics';
import { trackStatus } from './support/status';

export async function rollbackBootParameters(raw: unknown): Promise<RestoreReport> {
  const spec = await parseInput(RollbackBootParametersSpec, raw, 'rollback spec');
  const status = trackStatus('boot-params-rollback');
  status.detail('changeId', spec.changeId);
  status.step('restore and verify');
  // Waits for BSS as long as the retry budget says: a rollout that gave up on a BSS outage starts this.
  const report = await attempt('restore BSS entries from the snapshot', () => bootParameterActivities.restoreBootParameters({ changeId: spec.changeId, nodes: spec.nodes })).catch((error: unknown) => {
    countRollback('failed');
    throw error;
  });
  countRollback('completed');
  status.step('done');
  return report;
}
