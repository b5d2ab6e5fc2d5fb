// Test workflows around the attempt() helper.
import { attempt, attemptJournal } from '../../workflows/support/attempt';
import { labelledActivities } from '../../workflows/support/activities';
import { statusQuery, trackStatus } from '../../workflows/support/status';

export interface ProbeActivities {
  flaky(input: { failures: { type: string; nonRetryable: boolean }[] }): Promise<string>;
  repair(): Promise<void>;
}

const acts = labelledActivities<ProbeActivities>({ startToCloseTimeout: '10s', retry: { maximumAttempts: 1 } });
// for a try that stays running while a test looks at it
const slowActs = labelledActivities<ProbeActivities>({ startToCloseTimeout: '2m', retry: { maximumAttempts: 1 } });

export async function attemptProbe(input: { failures: { type: string; nonRetryable: boolean }[]; repairType?: string; maxAttempts?: number; limitType?: string; budgetMs?: number; slow?: boolean; awaitFirst?: boolean }) {
  trackStatus('probe');
  const result = await attempt('flaky step', async (label) => {
    // awaitFirst: the calls come after an await, as a repair's second call does (encryptImage's).
    if (input.awaitFirst) await Promise.resolve();
    return (input.slow ? slowActs : acts)(label).flaky({ failures: input.failures });
  }, {
    initialIntervalMs: 10,
    maxAttempts: input.maxAttempts,
    budgetMs: input.budgetMs,
    maxIntervalMs: 400,
    maxAttemptsByType: input.limitType ? { [input.limitType]: 2 } : undefined,
    repairs: input.repairType
      ? {
          [input.repairType]: async (_failure, label) => {
            await acts(label).repair();
            if (input.awaitFirst) await acts(label).repair();
          },
        }
      : undefined,
  });
  return { result, journal: attemptJournal };
}

export { statusQuery };
