// Bounded fan-out for workflows: a few items at a time, in order, nothing left running behind a failure.
import { CancellationScope, CancelledFailure } from '@temporalio/workflow';

/**
 * Runs `work` on each item, at most `lanes` at once, in order. After a failure no new item starts,
 * but those already running are awaited before the failure is thrown: nothing is left running behind.
 * When `pause()` turns true (time to continue as new), no new item starts either. Returns how many
 * items were started, all of them finished.
 */
export async function inLanes<T>(items: T[], lanes: number, work: (item: T, index: number) => Promise<void>, options: { pause?: () => boolean } = {}): Promise<number> {
  let next = 0;
  let stopped = false;
  const lane = async () => {
    while (!stopped && next < items.length) {
      if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('cancelled');
      if (options.pause?.()) {
        stopped = true;
        return;
      }
      const index = next++;
      try {
        await work(items[index], index);
      } catch (error) {
        stopped = true;
        throw error;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(lanes, items.length) }, lane));
  const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  return next;
}
