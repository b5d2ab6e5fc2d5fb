// A workflow's input, checked and given its defaults by its schema once, in a local activity
// (activities/workflowInput.ts): the result is recorded, so a replay takes the values the run
// started with, whatever the defaults of the code replaying it. Its `retry` budget then holds for
// every step of the run.
import { ActivityFailure, proxyLocalActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { z } from 'zod';
import type { createWorkflowInputActivities } from '../../activities/workflowInput';
import type { RetrySpec } from '../../lib/specs/retrySpec';
import { useRetryBudget } from './attempt';
import { statusQuery } from './status';

const { resolveWorkflowInput } = proxyLocalActivities<ReturnType<typeof createWorkflowInputActivities>>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3 },
});

/** `schema` is the one registered for this workflow type (lib/specs/registry.ts): it types the result. */
export async function parseInput<S extends z.ZodType>(_schema: S, raw: unknown, what = 'input'): Promise<z.output<S>> {
  // Until the workflow tracks its own status (it needs the input), the query answers this.
  setHandler(statusQuery, () => ({ phase: workflowInfo().workflowType, step: 'resolving input', attempts: [], details: {} }));
  const continuedAsNew = Boolean(workflowInfo().continuedFromExecutionRunId);
  const spec = (await resolveWorkflowInput({ raw, what, ...(continuedAsNew ? { continuedAsNew } : {}) }).catch((error: unknown) => {
    // The run fails with the input's own failure (InvalidInput listing every problem), as if parsed here.
    throw error instanceof ActivityFailure && error.cause ? error.cause : error;
  })) as z.output<S>;
  const retry = (spec as { retry?: RetrySpec }).retry;
  if (retry) useRetryBudget(retryBudgetOf(retry));
  return spec;
}

export const retryBudgetOf = (retry: RetrySpec) => ({ budgetMs: retry.budgetMinutes * 60_000, maxIntervalMs: retry.maxIntervalSeconds * 1000 });
