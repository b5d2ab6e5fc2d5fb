// Workflow-driven retries. Each try is one single-attempt activity, so every failure is an event
// in the workflow history (Temporal records only the last attempt of its own retries), and a
// repair can run between tries. The journal feeds the `status` query and `imagectl history`.
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  ChildWorkflowFailure,
  TimeoutFailure,
  isCancellation,
  sleep,
} from '@temporalio/workflow';
import { countFailedAttempt, countRepair } from './metrics';

export interface AttemptRecord {
  label: string;
  attempt: number;
  startedAt: string;
  durationMs: number;
  outcome: 'succeeded' | 'failed' | 'repaired' | 'repair-failed';
  failureType?: string;
  message?: string;
}

export interface PreviousAttempt {
  attempt: number;
  failureType: string;
  message: string;
  /** Progress the failed try reported by heartbeat, when it timed out (a killed worker). */
  heartbeatDetails?: unknown;
}

export interface AttemptOptions {
  /** A bound on tries in all, the first one included, for steps where time is not the right bound (cleanups); none by default. */
  maxAttempts?: number;
  /** How long a step keeps retrying transient failures, from its first try; the workflow's retry budget by default. */
  budgetMs?: number;
  initialIntervalMs?: number;
  maxIntervalMs?: number;
  /** Per failure type, a bound on tries for that type (e.g. re-uploads on a corrupt ETag); a repaired type has 3 by default. */
  maxAttemptsByType?: Record<string, number>;
  /** Per failure type, a repair to run before the next try, given the label its activities carry; the failure is then retried even if non-retryable. */
  repairs?: Record<string, (failure: PreviousAttempt, label: string) => Promise<unknown>>;
}

/** This workflow's attempts, oldest first (module state is per workflow execution in the SDK). */
export const attemptJournal: AttemptRecord[] = [];

/** How long every step of this workflow waits out transient failures, and the cap on the wait between tries. */
export interface RetryBudget {
  budgetMs: number;
  maxIntervalMs: number;
}

let retryBudget: RetryBudget = { budgetMs: 30 * 60_000, maxIntervalMs: 30_000 };

/** Set once from the workflow's parsed input (so a replay sees the same budget), before its first step. */
export function useRetryBudget(budget: RetryBudget): void {
  retryBudget = budget;
}

const repairedTypeLimit = 3;

/**
 * Runs a step until it succeeds or its budget is spent. `run` gets the try's label (the step's, then
 * "<step> (attempt N)"), which its activity calls carry as their summary (stubs of ./activities take it).
 */
export async function attempt<T>(label: string, run: (label: string, previous?: PreviousAttempt) => Promise<T>, options: AttemptOptions = {}): Promise<T> {
  const maxAttempts = options.maxAttempts ?? Infinity;
  const budgetMs = options.budgetMs ?? retryBudget.budgetMs;
  const maxIntervalMs = options.maxIntervalMs ?? retryBudget.maxIntervalMs;
  const firstStarted = Date.now();
  let interval = Math.min(options.initialIntervalMs ?? 1000, maxIntervalMs);
  const triesByType: Record<string, number> = {};
  let previous: PreviousAttempt | undefined;
  for (let tryNumber = 1; ; tryNumber++) {
    const started = Date.now();
    const record = (outcome: AttemptRecord['outcome'], failure?: PreviousAttempt, recordLabel = label) =>
      attemptJournal.push({
        label: recordLabel,
        attempt: tryNumber,
        startedAt: new Date(started).toISOString(),
        durationMs: Date.now() - started,
        outcome,
        failureType: failure?.failureType,
        message: failure?.message,
      });
    try {
      const result = await run(tryNumber > 1 ? `${label} (attempt ${tryNumber})` : label, previous);
      record('succeeded');
      return result;
    } catch (error) {
      if (isCancellation(error)) throw error;
      const failure = describeFailure(error, tryNumber);
      record('failed', failure);
      countFailedAttempt(failure.failureType);
      triesByType[failure.failureType] = (triesByType[failure.failureType] ?? 0) + 1;
      const repair = options.repairs?.[failure.failureType];
      const typeLimit = options.maxAttemptsByType?.[failure.failureType] ?? (repair ? repairedTypeLimit : Infinity);
      const outOfTime = !repair && Date.now() + interval - firstStarted > budgetMs;
      const exhausted = tryNumber >= maxAttempts || triesByType[failure.failureType] >= typeLimit || outOfTime;
      if (exhausted || (!repair && !isRetryable(error))) throw giveUp(label, tryNumber, failure, error, Date.now() - firstStarted);
      if (repair) {
        const repairStarted = Date.now();
        const repairLabel = `repair ${failure.failureType} for ${label}`;
        try {
          await repair(failure, repairLabel);
          attemptJournal.push({ label: repairLabel, attempt: tryNumber, startedAt: new Date(repairStarted).toISOString(), durationMs: Date.now() - repairStarted, outcome: 'repaired', failureType: failure.failureType });
          countRepair(failure.failureType, 'repaired');
        } catch (repairError) {
          if (isCancellation(repairError)) throw repairError;
          const repairFailure = describeFailure(repairError, tryNumber);
          attemptJournal.push({ label: repairLabel, attempt: tryNumber, startedAt: new Date(repairStarted).toISOString(), durationMs: Date.now() - repairStarted, outcome: 'repair-failed', failureType: repairFailure.failureType, message: repairFailure.message });
          countRepair(failure.failureType, 'repair-failed');
          throw giveUp(label, tryNumber, repairFailure, repairError, Date.now() - firstStarted);
        }
      } else {
        await sleep(interval);
        interval = Math.min(interval * 2, maxIntervalMs);
      }
      previous = failure;
    }
  }
}

function innermost(error: unknown): unknown {
  if (error instanceof ActivityFailure || error instanceof ChildWorkflowFailure) return error.cause ?? error;
  return error;
}

export function failureTypeOf(error: unknown): string {
  const cause = innermost(error);
  if (cause instanceof ApplicationFailure) return cause.type ?? 'Error';
  if (cause instanceof TimeoutFailure) return 'Timeout';
  if (cause instanceof CancelledFailure) return 'Cancelled';
  return (cause as Error)?.name ?? 'Error';
}

function describeFailure(error: unknown, attemptNumber: number): PreviousAttempt {
  const cause = innermost(error);
  return {
    attempt: attemptNumber,
    failureType: failureTypeOf(error),
    message: (cause as Error)?.message ?? String(cause),
    heartbeatDetails: cause instanceof TimeoutFailure ? cause.lastHeartbeatDetails : undefined,
  };
}

function isRetryable(error: unknown): boolean {
  const cause = innermost(error);
  return !(cause instanceof ApplicationFailure && cause.nonRetryable);
}

function giveUp(label: string, tries: number, failure: PreviousAttempt, error: unknown, elapsedMs: number): ApplicationFailure {
  return ApplicationFailure.create({
    type: failure.failureType,
    message: `${label}: ${failure.message}${tries > 1 ? ` (gave up after ${tries} attempts in ${formatElapsed(elapsedMs)})` : ''}`,
    nonRetryable: true,
    cause: error instanceof Error ? error : undefined,
  });
}

function formatElapsed(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 120 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
}
