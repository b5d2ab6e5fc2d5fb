// validateInitiators: before nodes reboot into an image (and again on the canary), prove from each node's
// side that it can reach and open it (seed 003's second half, as checks):
//   1. the identity every node must see: serial and WWID from the artifact's link, its size from S3
//   2. the nodes in batches, each a child workflow (a few at a time) whose chunks are checkInitiators
//      activities: discovery and login on every server, identity, capacity, write refused, LUKS header/key
//   3. continue as new before the history grows too long, carrying the counts and the first failures
//   4. the full per-node report to S3 (one part per batch, then report.json); any failing node fails the
//      workflow with a non-retryable ValidationFailed naming the first failures
import { continueAsNew, executeChild, workflowInfo } from '@temporalio/workflow';
import type { Expectation } from '../activities/initiator/driver';
import { inBatches } from '../lib/bootParams';
import { FailureType, permanentFailure } from '../lib/failures';
import { ValidateInitiatorsSpec, type FailureLine, type ParsedValidateInitiatorsSpec, type ValidationProgress } from '../lib/specs/validateSpec';
import { expectation, failureMessage, luksKeyIdOf, mergeFailures, mergeSkips, nodesToCheck, serverTargets } from '../lib/validation';
import { central } from './support/activities';
import { attempt } from './support/attempt';
import { parseInput } from './support/input';
import { inLanes } from './support/lanes';
import { trackStatus } from './support/status';
import { validateInitiatorBatch } from './validateInitiatorBatch';

export interface ValidationSummary {
  workflowId: string;
  nodes: number;
  passed: number;
  failed: number;
  firstFailures: FailureLine[];
  /** Checks not run, and why (once per distinct reason). */
  skipped: { check: string; reason: string }[];
  /** s3:// URL of report.json, which lists the per-batch parts holding every node's verdict. */
  report: string;
  /** Runs of this workflow id (continue-as-new chains). */
  runs: number;
  expected: Expectation;
}

export async function validateInitiators(raw: unknown): Promise<ValidationSummary> {
  const { workflowId } = workflowInfo();
  // Progress is carried over by continue-as-new only: a caller's `resume` would skip batches unchecked
  // (resolveWorkflowInput takes the caller's schema unless this run continued as new).
  const spec = await parseInput(ValidateInitiatorsSpec, raw, 'validation spec');
  const status = trackStatus('validate', { imageId: spec.imageId });
  const reportDir = `${spec.reportPrefix.replace(/\/+$/, '')}/${workflowId}`;
  const targets = serverTargets(spec.iscsi.targets!);
  const nodes = nodesToCheck(spec);

  status.step('expected identity');
  const progress: ValidationProgress = spec.resume ?? {
    nextBatch: 0,
    sizeBytes: spec.sizeBytes ?? (await artifactSize(spec)),
    passed: 0,
    failed: 0,
    firstFailures: [],
    skipped: [],
    runs: 1,
    startedAt: new Date().toISOString(),
  };
  const expected = expectation(spec, progress.sizeBytes);
  const check = { driver: spec.initiator.driver, targets, expected, chap: spec.chap, luksKeyId: luksKeyIdOf(spec), checks: spec.checks };
  const batches = inBatches(nodes, spec.batchSize);
  const showProgress = () =>
    status.detail('progress', { nodesDone: progress.passed + progress.failed, nodesTotal: nodes.length, passed: progress.passed, failed: progress.failed, run: progress.runs });
  showProgress();

  status.step(`check ${nodes.length} nodes in ${batches.length} batches (run ${progress.runs})`);
  const first = progress.nextBatch;
  const started = await inLanes(
    batches.slice(first),
    spec.batchesInFlight,
    async (batchNodes, offset) => {
      const batch = first + offset;
      const result = await executeChild(validateInitiatorBatch, {
        args: [{ batch, nodes: batchNodes, check, chunkSize: spec.chunkSize, chunksInFlight: spec.chunksInFlight, firstFailures: spec.firstFailures, partUrl: partUrl(reportDir, batch), retry: spec.retry }],
        workflowId: `${workflowId}-batch-${batch}`,
      });
      progress.passed += result.passed;
      progress.failed += result.failed;
      progress.firstFailures = mergeFailures(progress.firstFailures, result.firstFailures, spec.firstFailures);
      progress.skipped = mergeSkips(progress.skipped, result.skipped);
      showProgress();
    },
    { pause: () => timeToContinueAsNew(spec) },
  );
  if (first + started < batches.length) {
    status.step('continue as new');
    await continueAsNew<typeof validateInitiators>({ ...(raw as object), resume: { ...progress, nextBatch: first + started, runs: progress.runs + 1 } });
  }

  status.step('write report');
  const report = `${reportDir}/report.json`;
  const summary: ValidationSummary = {
    workflowId,
    nodes: nodes.length,
    passed: progress.passed,
    failed: progress.failed,
    firstFailures: progress.firstFailures,
    skipped: progress.skipped,
    report,
    runs: progress.runs,
    expected,
  };
  const document = {
    ...summary,
    imageId: spec.imageId,
    manifestPath: spec.manifestPath,
    rootfs: spec.rootfs,
    driver: spec.initiator.driver,
    targets,
    checks: spec.checks,
    startedAt: progress.startedAt,
    finishedAt: new Date().toISOString(),
    parts: batches.map((_, batch) => partUrl(reportDir, batch)),
  };
  await attempt('write validation report', (label) => central(label).putJsonObject({ url: report, value: document }));
  if (progress.failed > 0) {
    status.step('failed');
    throw permanentFailure(FailureType.ValidationFailed, failureMessage(progress, nodes.length, report), summary);
  }
  status.step('done');
  return summary;
}

const partUrl = (reportDir: string, batch: number) => `${reportDir}/part-${String(batch).padStart(5, '0')}.json`;

function timeToContinueAsNew(spec: ParsedValidateInitiatorsSpec): boolean {
  const info = workflowInfo();
  return info.historyLength >= spec.continueAsNewAfterEvents || info.continueAsNewSuggested;
}

/** The exported artifact's size as S3 reports it; its etag must be the one the LUN identity is derived from. */
async function artifactSize(spec: ParsedValidateInitiatorsSpec): Promise<number> {
  const head = await attempt('head exported artifact', (label) => central(label).headObject({ url: spec.rootfs.path }));
  if (!head) throw permanentFailure(FailureType.InvalidInput, `${spec.rootfs.path}: no such object in S3`);
  if (head.etag !== spec.rootfs.etag) {
    throw permanentFailure(FailureType.InvalidInput, `${spec.rootfs.path} has etag ${head.etag} in S3, not ${spec.rootfs.etag}: its export's LUN identity would not be the one given`);
  }
  return head.size;
}
