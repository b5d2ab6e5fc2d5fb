// Progress of a streaming activity as heartbeats, and its cancellation, when running as an activity.
import { Context } from '@temporalio/activity';

export interface ByteProgress {
  bytesDone: number;
  bytesTotal: number;
}

/** The activity context, or undefined when called outside an activity (scripts, benchmarks, unit tests). */
export function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** At most one heartbeat a second, and always the last one. */
function throttled(report: (progress: ByteProgress) => void, intervalMs = 1000): (progress: ByteProgress) => void {
  let last = 0;
  return (progress) => {
    const now = Date.now();
    if (now - last >= intervalMs || progress.bytesDone === progress.bytesTotal) {
      last = now;
      report(progress);
    }
  };
}

/** `onProgress` (heartbeats) and `signal` (cancellation) for the current activity; both absent outside one. */
export function activityProgress(): { onProgress?: (progress: ByteProgress) => void; signal?: AbortSignal } {
  const context = currentContext();
  return context ? { onProgress: throttled((progress) => context.heartbeat(progress)), signal: context.cancellationSignal } : {};
}
