import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { withTestWorker } from './helpers/testWorker';
import { attemptRowsOf } from './helpers/history';
import { uniqueId } from './helpers/temporal';
import { attemptProbe } from './workflows/attemptProbe';

const require = createRequire(import.meta.url);
const workflowsPath = require.resolve('./workflows/attemptProbe.ts');

/** An activity that fails with the given failures in order, then succeeds; counts repairs. */
function scriptedActivities() {
  const calls = { flaky: 0, repair: 0 };
  return {
    calls,
    activities: {
      async flaky(input: { failures: { type: string; nonRetryable: boolean }[] }) {
        const failure = input.failures[calls.flaky++];
        if (failure) throw ApplicationFailure.create({ type: failure.type, message: `scripted ${failure.type}`, nonRetryable: failure.nonRetryable });
        return 'ok';
      },
      async repair() {
        calls.repair++;
      },
    },
  };
}

describe('attempt(): workflow-driven retries visible in history', () => {
  it('retries transient failures, runs the repair for a repairable one, and records every attempt as an event', async () => {
    const { calls, activities } = scriptedActivities();
    const failures = [
      { type: 'ServiceUnavailable', nonRetryable: false },
      { type: 'ServiceUnavailable', nonRetryable: false },
      { type: 'ManifestEtagFault', nonRetryable: true },
    ];
    await withTestWorker({ workflowsPath, activities }, async ({ client, taskQueue }) => {
      const workflowId = uniqueId('attempt');
      const { result, journal } = await client.workflow.execute(attemptProbe, { taskQueue, workflowId, args: [{ failures, repairType: 'ManifestEtagFault' }] });
      expect(result).toBe('ok');
      expect(calls).toEqual({ flaky: 4, repair: 1 });
      expect(journal.map((r) => [r.label, r.attempt, r.outcome, r.failureType ?? null])).toEqual([
        ['flaky step', 1, 'failed', 'ServiceUnavailable'],
        ['flaky step', 2, 'failed', 'ServiceUnavailable'],
        ['flaky step', 3, 'failed', 'ManifestEtagFault'],
        ['repair ManifestEtagFault for flaky step', 3, 'repaired', 'ManifestEtagFault'],
        ['flaky step', 4, 'succeeded', null],
      ]);
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const failed = history.events!.filter((e) => e.activityTaskFailedEventAttributes);
      expect(failed.map((e) => e.activityTaskFailedEventAttributes!.failure!.applicationFailureInfo!.type)).toEqual([
        'ServiceUnavailable',
        'ServiceUnavailable',
        'ManifestEtagFault',
      ]);
      const summaries = history.events!
        .filter((e) => e.activityTaskScheduledEventAttributes)
        .map((e) => defaultPayloadConverter.fromPayload(e.userMetadata!.summary!));
      expect(summaries).toEqual([
        'flaky step',
        'flaky step (attempt 2)',
        'flaky step (attempt 3)',
        'repair ManifestEtagFault for flaky step',
        'flaky step (attempt 4)',
      ]);
    });
  });

  it('labels every call with its attempt when the calls come after an await (a repair of two calls)', async () => {
    const { calls, activities } = scriptedActivities();
    const failures = [
      { type: 'ServiceUnavailable', nonRetryable: false },
      { type: 'ManifestEtagFault', nonRetryable: true },
    ];
    await withTestWorker({ workflowsPath, activities }, async ({ client, taskQueue }) => {
      const workflowId = uniqueId('attempt-await');
      const { result } = await client.workflow.execute(attemptProbe, { taskQueue, workflowId, args: [{ failures, repairType: 'ManifestEtagFault', awaitFirst: true }] });
      expect(result).toBe('ok');
      expect(calls).toEqual({ flaky: 3, repair: 2 });
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const summaries = history.events!
        .filter((e) => e.activityTaskScheduledEventAttributes)
        .map((e) => defaultPayloadConverter.fromPayload(e.userMetadata!.summary!));
      expect(summaries).toEqual(['flaky step', 'flaky step (attempt 2)', 'repair ManifestEtagFault for flaky step', 'repair ManifestEtagFault for flaky step', 'flaky step (attempt 3)']);
      expect((await attemptRowsOf(client, workflowId)).map((row) => row.label)).toEqual(summaries);
    });
  });

  it('stops at once on a non-retryable failure without a repair, keeping its type', async () => {
    const { calls, activities } = scriptedActivities();
    await withTestWorker({ workflowsPath, activities }, async ({ client, taskQueue }) => {
      const run = client.workflow.execute(attemptProbe, {
        taskQueue,
        workflowId: uniqueId('attempt'),
        args: [{ failures: [{ type: 'ManifestInvalid', nonRetryable: true }] }],
      });
      const error = await run.catch((e) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect((error.cause as ApplicationFailure).type).toBe('ManifestInvalid');
      expect(error.cause.message).toMatch(/^flaky step: scripted ManifestInvalid$/);
      expect(calls.flaky).toBe(1);
    });
  });

  it('bounds tries per failure type, then gives up naming the count', async () => {
    const { calls, activities } = scriptedActivities();
    const corrupt = { type: 'ArtifactCorrupt', nonRetryable: false };
    await withTestWorker({ workflowsPath, activities }, async ({ client, taskQueue }) => {
      const error = await client.workflow
        .execute(attemptProbe, { taskQueue, workflowId: uniqueId('attempt'), args: [{ failures: [corrupt, corrupt, corrupt], limitType: 'ArtifactCorrupt' }] })
        .catch((e) => e);
      expect((error.cause as ApplicationFailure).type).toBe('ArtifactCorrupt');
      expect((error.cause as ApplicationFailure).nonRetryable).toBe(true);
      expect(error.cause.message).toContain('gave up after 2 attempts');
      expect(calls.flaky).toBe(2);
    });
  });

  it('keeps retrying transient failures past five tries while the time budget lasts', async () => {
    const { calls, activities } = scriptedActivities();
    const transient = Array.from({ length: 6 }, () => ({ type: 'ServiceUnavailable', nonRetryable: false }));
    await withTestWorker({ workflowsPath, activities }, async ({ client, taskQueue }) => {
      const { result } = await client.workflow.execute(attemptProbe, { taskQueue, workflowId: uniqueId('attempt'), args: [{ failures: transient, budgetMs: 60_000 }] });
      expect(result).toBe('ok');
      expect(calls.flaky).toBe(7);
    });
  });

  it('gives up on transient failures once the time budget is spent, naming the tries and the time', async () => {
    const { calls, activities } = scriptedActivities();
    const endless = Array.from({ length: 1000 }, () => ({ type: 'ServiceUnavailable', nonRetryable: false }));
    await withTestWorker({ workflowsPath, activities }, async ({ client, taskQueue }) => {
      const started = Date.now();
      const error = await client.workflow.execute(attemptProbe, { taskQueue, workflowId: uniqueId('attempt'), args: [{ failures: endless, budgetMs: 3000 }] }).catch((e) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect((error.cause as ApplicationFailure).type).toBe('ServiceUnavailable');
      expect(error.cause.message).toMatch(/^flaky step: scripted ServiceUnavailable \(gave up after \d+ attempts in \d+ s\)$/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
      expect(calls.flaky).toBeGreaterThanOrEqual(3);
    });
  });

  it('bounds repeated repairs of the same failure type', async () => {
    const { calls, activities } = scriptedActivities();
    const stale = Array.from({ length: 10 }, () => ({ type: 'ManifestEtagFault', nonRetryable: true }));
    await withTestWorker({ workflowsPath, activities }, async ({ client, taskQueue }) => {
      const error = await client.workflow.execute(attemptProbe, { taskQueue, workflowId: uniqueId('attempt'), args: [{ failures: stale, repairType: 'ManifestEtagFault' }] }).catch((e) => e);
      expect((error.cause as ApplicationFailure).type).toBe('ManifestEtagFault');
      expect(calls).toEqual({ flaky: 3, repair: 2 });
    });
  });
});
