// updateBootParameters: seed 002 section 5 (GET each node's params, swap the image tokens, PATCH
// kernel, initrd and params) for thousands of nodes, with a way back:
//   1. the image's manifest: kernel, initrd, rootfs path and its S3 etag (none → stop, nothing changed)
//   2. snapshot every node's BSS entry to S3 under the change id (survives a BSS/etcd loss, seed 004)
//   3. plan each node's new entry; refuse the whole change if any node cannot boot the image
//   4. a canary batch; the `validateInitiators` workflow on it; an operator's approval when asked
//   5. the other nodes in batches, a few at a time
// A failure, a rejection, an approval timeout or a cancellation after the snapshot rolls every touched
// node back (the rollbackBootParameters child workflow), then the rollout fails with its reason.
import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  ParentClosePolicy,
  condition,
  defineSignal,
  defineUpdate,
  executeChild,
  isCancellation,
  rootCause,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchReport, PlanSummary } from '../activities/bss/activities';
import type { RolloutChange } from '../activities/bss/plan';
import { inBatches, type BootImage } from '../lib/bootParams';
import { FailureType } from '../lib/failures';
import { foldNodeset } from '../lib/nodeset';
import { exportedArtifact } from '../lib/validation';
import { ApprovalDecision, UpdateBootParametersSpec, type ParsedUpdateBootParametersSpec } from '../lib/specs/bootParamsSpec';
import type { RetrySpec } from '../lib/specs/retrySpec';
import { bootParameterActivities as bss } from './support/activities';
import { attempt, failureTypeOf } from './support/attempt';
import { parseInput } from './support/input';
import { imageWithManifest } from './support/manifests';
import { inLanes } from './support/lanes';
import { trackStatus } from './support/status';
import { rollbackBootParameters } from './rollbackBootParameters';

export interface Decision extends ApprovalDecision {
  verdict: 'approved' | 'rejected';
  via: 'signal' | 'update';
  at: string;
}

export const approveSignal = defineSignal<[ApprovalDecision]>('approve');
export const rejectSignal = defineSignal<[ApprovalDecision]>('reject');
export const approveUpdate = defineUpdate<Decision, [ApprovalDecision]>('approve');
export const rejectUpdate = defineUpdate<Decision, [ApprovalDecision]>('reject');

export interface BootParametersResult {
  changeId: string;
  snapshotPath: string;
  imageId?: string;
  manifestPath: string;
  dryRun: boolean;
  nodes: { count: number; nodeset: string };
  /** Per group of nodes changing the same way: the before/after tokens (the dry run's diff). */
  plan: PlanSummary;
  /** Batch 0 is the canary. */
  batches: (BatchReport & { batch: number })[];
  validation?: unknown;
  approval?: Decision;
}

export async function updateBootParameters(raw: unknown): Promise<BootParametersResult> {
  const spec = await parseInput(UpdateBootParametersSpec, raw, 'boot parameters spec');
  const status = trackStatus('boot-params', { imageId: spec.imageId });
  const { workflowId, runId } = workflowInfo();
  const changeId = workflowId;
  const decisions = operatorDecisions(status);

  status.step('check image manifest');
  const manifestPath = spec.manifestPath ?? (await manifestOfImage(spec.imageId!));
  const image = await attempt('check image manifest', (label) => bss(label).resolveBootImage({ manifestPath, imageId: spec.imageId }));
  const change: RolloutChange = { image, iscsi: spec.iscsi, missingHosts: spec.missingHosts, baseParams: spec.baseParams };

  // One rollout at a time per node (a dry run changes nothing and claims nothing).
  if (!spec.dryRun) await claimNodes(spec, changeId, `${workflowId}/${runId}`, status);
  try {
    status.step('snapshot BSS entries');
    const snapshot = await attempt('snapshot BSS entries to S3', (label) => bss(label).snapshotBootParameters({ changeId, owner: `${workflowId}/${runId}`, nodes: spec.nodes }));
    status.detail('changeId', changeId);
    status.detail('snapshotPath', snapshot.snapshotPath);
    status.step('plan');
    const plan = await attempt('plan boot parameters', (label) => bss(label).planBootParameters({ changeId, change }));
    const result: BootParametersResult = {
      changeId,
      snapshotPath: snapshot.snapshotPath,
      imageId: spec.imageId,
      manifestPath,
      dryRun: spec.dryRun,
      nodes: { count: spec.nodes.length, nodeset: foldNodeset(spec.nodes) },
      plan,
      batches: [],
    };
    if (spec.dryRun) {
      status.step('done (dry run)');
      return result;
    }

    let touched: string[] = [];
    const untouch = (nodes: string[]) => {
      const left = new Set(nodes);
      touched = touched.filter((node) => !left.has(node));
    };
    const applyBatch = async (batch: number, nodes: string[]) => {
      touched.push(...nodes);
      // Not cancellable: a PATCH must not land after the rollback that a cancellation starts.
      const report = await CancellationScope.nonCancellable(() =>
        attempt(`apply batch ${batch} (${nodes.length} nodes)`, (label) => bss(label).applyBootParameters({ changeId, nodes, change })),
      ).catch((error) => {
        // Refused before any write: the rollback must leave these nodes (and the edit found there) alone.
        if (failureTypeOf(error) === FailureType.ChangedSinceSnapshot) untouch(nodes);
        throw error;
      });
      result.batches.push({ batch, ...report });
      status.detail('progress', { nodesDone: result.batches.reduce((sum, b) => sum + b.count, 0), nodesTotal: spec.nodes.length });
    };

    try {
      const canary = spec.nodes.slice(0, spec.canarySize);
      status.step('canary');
      await applyBatch(0, canary);
      decisions.throwIfRejected();
      if (spec.validate) {
        status.step('validate canary');
        result.validation = await validateCanary(spec, image, canary);
      }
      decisions.throwIfRejected();
      if (spec.approval.required) {
        status.step('awaiting approval');
        result.approval = await decisions.awaitApproval(spec.approval.timeoutMinutes);
      }
      status.step('batches');
      const rest = inBatches(spec.nodes.slice(spec.canarySize), spec.batchSize);
      await inLanes(rest, spec.concurrency, (nodes, index) => {
        decisions.throwIfRejected();
        return applyBatch(index + 1, nodes);
      });
      decisions.finish();
      status.step('done');
      return result;
    } catch (error) {
      decisions.finish();
      if (!touched.length) throw error;
      await CancellationScope.nonCancellable(() => rollBack(changeId, touched, spec.retry, error, status));
      if (isCancellation(error)) throw error;
      throw ApplicationFailure.create({
        type: failureTypeOf(error),
        message: `${reasonOf(error)} (rolled back ${touched.length} nodes to snapshot ${snapshot.snapshotPath})`,
        nonRetryable: true,
        cause: error as Error,
      });
    }
  } finally {
    // A lock left behind (S3 unreachable) is stale once this workflow is closed: the next claim takes it over.
    if (!spec.dryRun) await CancellationScope.nonCancellable(() => attempt('release nodes', (label) => bss(label).releaseNodes({ changeId }), { budgetMs: 60_000 })).catch(() => undefined);
  }
}

async function manifestOfImage(imageId: string): Promise<string> {
  return (await imageWithManifest(imageId)).manifestPath;
}

/** Claims the nodes; while another rollout holds some, waits if the spec says so, checking every minute (or tenth of the wait). */
async function claimNodes(spec: ParsedUpdateBootParametersSpec, changeId: string, owner: string, status: ReturnType<typeof trackStatus>): Promise<void> {
  const waitMinutes = spec.waitForHeldNodesMinutes ?? 0;
  const deadline = Date.now() + waitMinutes * 60_000;
  for (let waited = false; ; waited = true) {
    status.step('claim nodes');
    try {
      await attempt('claim nodes', (label) => bss(label).claimNodes({ changeId, owner, nodes: spec.nodes }));
      return;
    } catch (error) {
      if (failureTypeOf(error) !== FailureType.NodesHeld) throw error;
      const waitMs = deadline - Date.now();
      if (waitMs <= 0) throw waited ? ApplicationFailure.create({ type: FailureType.NodesHeld, message: `${(error as Error).message} (waited ${waitMinutes} min)`, nonRetryable: true }) : error;
      status.step(`waiting for held nodes: ${(error as Error).message}`);
      await sleep(Math.min(waitMs, 60_000, waitMinutes * 6_000));
    }
  }
}

async function validateCanary(spec: ParsedUpdateBootParametersSpec, image: BootImage, nodes: string[]): Promise<unknown> {
  const { validate } = spec;
  return executeChild('validateInitiators', {
    args: [{ ...validate!.options, nodes, imageId: image.imageId, manifestPath: image.manifestPath, rootfs: exportedArtifact(image, spec.iscsi), iscsi: spec.iscsi, retry: spec.retry }],
    workflowId: `${workflowInfo().workflowId}-validate-canary`,
    workflowExecutionTimeout: `${validate!.timeoutMinutes}m`,
  });
}

async function rollBack(changeId: string, touched: string[], retry: RetrySpec, error: unknown, status: ReturnType<typeof trackStatus>) {
  status.step(`roll back ${touched.length} nodes`);
  status.detail('rollbackReason', reasonOf(error));
  try {
    const report = await executeChild(rollbackBootParameters, {
      args: [{ changeId, nodes: foldNodeset(touched), retry }],
      workflowId: `${workflowInfo().workflowId}-rollback`,
      // A rollback in progress must finish even if this workflow is terminated.
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
    status.detail('rollback', report);
    status.step('rolled back');
  } catch (rollbackError) {
    status.step('rollback failed');
    throw ApplicationFailure.create({
      type: FailureType.RollbackFailed,
      message: `${reasonOf(error)}; then the rollback of change ${changeId} failed: ${reasonOf(rollbackError)} (retry with rollbackBootParameters {"changeId": "${changeId}"})`,
      nonRetryable: true,
      cause: rollbackError as Error,
    });
  }
}

/** Approve (only while the rollout awaits it) and reject (any time before it ends), by signal or update. */
function operatorDecisions(status: ReturnType<typeof trackStatus>) {
  let awaiting = false;
  let finished = false;
  let decision: Decision | undefined;
  const ignored: string[] = [];

  const refusal = (verdict: Decision['verdict']): string | undefined => {
    if (finished || decision) return `the rollout is ${finished ? 'over' : `already ${decision!.verdict}`}`;
    if (verdict === 'approved' && !awaiting) return 'the rollout is not awaiting approval';
    return undefined;
  };
  const decide = (verdict: Decision['verdict'], via: Decision['via'], input: ApprovalDecision): Decision => {
    decision = { ...ApprovalDecision.parse(input), verdict, via, at: new Date().toISOString() };
    status.detail('decision', decision);
    return decision;
  };
  const validator = (verdict: Decision['verdict']) => (input: ApprovalDecision) => {
    const parsed = ApprovalDecision.safeParse(input);
    if (!parsed.success) throw new Error(parsed.error.issues.map((i) => i.message).join('; '));
    const refused = refusal(verdict);
    if (refused) throw new Error(refused);
  };
  const onSignal = (verdict: Decision['verdict']) => (input: ApprovalDecision) => {
    const problem = refusal(verdict) ?? (ApprovalDecision.safeParse(input).success ? undefined : 'who and reason are required');
    if (problem) {
      ignored.push(`${verdict === 'approved' ? 'approve' : 'reject'} signal ignored: ${problem}`);
      status.detail('ignoredSignals', ignored);
    } else decide(verdict, 'signal', input);
  };
  setHandler(approveSignal, onSignal('approved'));
  setHandler(rejectSignal, onSignal('rejected'));
  setHandler(approveUpdate, (input) => decide('approved', 'update', input), { validator: validator('approved') });
  setHandler(rejectUpdate, (input) => decide('rejected', 'update', input), { validator: validator('rejected') });

  const rejected = () =>
    ApplicationFailure.create({ type: FailureType.RolloutRejected, message: `rejected by ${decision!.who}: ${decision!.reason}`, nonRetryable: true, details: [decision] });

  return {
    throwIfRejected() {
      if (decision?.verdict === 'rejected') throw rejected();
    },
    async awaitApproval(timeoutMinutes: number): Promise<Decision> {
      awaiting = true;
      const decided = await condition(() => decision !== undefined, `${timeoutMinutes}m`);
      awaiting = false;
      if (!decided) throw ApplicationFailure.create({ type: FailureType.ApprovalTimedOut, message: `no approval within ${timeoutMinutes} minutes`, nonRetryable: true });
      if (decision!.verdict === 'rejected') throw rejected();
      return decision!;
    },
    finish() {
      finished = true;
    },
  };
}

const reasonOf = (error: unknown) => (error instanceof ChildWorkflowFailure ? (rootCause(error) ?? error.message) : (error as Error).message);
