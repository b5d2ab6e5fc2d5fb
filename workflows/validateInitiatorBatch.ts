// One batch of validateInitiators: its nodes in chunks, each chunk one checkInitiators activity (a few at a
// time), then the batch's per-node verdicts written to S3 as one report part. Returns counts and the first
// failures only, so the parent's history stays small however many nodes there are.
import type { InitiatorActivities } from '../activities/initiator/activities';
import type { CheckInitiatorsInput } from '../activities/initiator/inputs';
import type { NodeToCheck } from '../activities/initiator/driver';
import type { NodeVerdict } from '../activities/initiator/verdict';
import { inBatches } from '../lib/bootParams';
import type { FailureLine } from '../lib/specs/validateSpec';
import { firstFailureLines, mergeSkips } from '../lib/validation';
import { central, labelledActivities } from './support/activities';
import type { RetrySpec } from '../lib/specs/retrySpec';
import { attempt, useRetryBudget } from './support/attempt';
import { retryBudgetOf } from './support/input';
import { inLanes } from './support/lanes';
import { countValidatedNodes } from './support/metrics';
import { trackStatus } from './support/status';

const initiators = labelledActivities<InitiatorActivities>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '1m',
  retry: { maximumAttempts: 1 },
});

export interface ValidationBatchInput {
  batch: number;
  nodes: NodeToCheck[];
  /** Everything checkInitiators takes but the nodes. */
  check: Omit<CheckInitiatorsInput, 'nodes'>;
  chunkSize: number;
  chunksInFlight: number;
  firstFailures: number;
  /** Where this batch's part of the report goes. */
  partUrl: string;
  /** The parent's retry budget. */
  retry?: RetrySpec;
}

export interface ValidationBatchResult {
  batch: number;
  nodes: number;
  passed: number;
  failed: number;
  firstFailures: FailureLine[];
  skipped: { check: string; reason: string }[];
  partUrl: string;
}

export async function validateInitiatorBatch(input: ValidationBatchInput): Promise<ValidationBatchResult> {
  const status = trackStatus('validate');
  if (input.retry) useRetryBudget(retryBudgetOf(input.retry));
  const chunks = inBatches(input.nodes, input.chunkSize);
  const results: NodeVerdict[][] = [];
  let nodesDone = 0;
  status.detail('progress', { nodesDone, nodesTotal: input.nodes.length });
  status.step(`check ${input.nodes.length} nodes`);
  await inLanes(chunks, input.chunksInFlight, async (nodes, index) => {
    const label = `check ${nodes[0].node}${nodes.length > 1 ? `…${nodes[nodes.length - 1].node}` : ''} (${nodes.length} nodes)`;
    const { verdicts } = await attempt(label, (tryLabel) => initiators(tryLabel).checkInitiators({ ...input.check, nodes }), { maxAttempts: 3 });
    results[index] = verdicts;
    nodesDone += verdicts.length;
    status.detail('progress', { nodesDone, nodesTotal: input.nodes.length });
  });
  const verdicts = results.flat();
  status.step('write report part');
  await attempt('write report part', (label) => central(label).putJsonObject({ url: input.partUrl, value: { batch: input.batch, nodes: verdicts } }));
  status.step('done');
  const failed = verdicts.filter((v) => !v.ok).length;
  countValidatedNodes(verdicts.length - failed, failed);
  return {
    batch: input.batch,
    nodes: verdicts.length,
    passed: verdicts.length - failed,
    failed,
    firstFailures: firstFailureLines(verdicts, input.firstFailures, input.batch),
    skipped: mergeSkips([], verdicts.flatMap((v) => v.skipped)),
    partUrl: input.partUrl,
  };
}
