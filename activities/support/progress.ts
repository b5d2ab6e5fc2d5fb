// Progress of a streaming activity as heartbeats, and its cancellation, when running as an activity.
import { Context } from '@temporalio/activity';
import { progressHeartbeats } from './heartbeats';

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

/**
 * Runs `work` with `onProgress` (heartbeats: at most one a second as progress comes in, and a keep-alive
 * every 5 s while none does, as when cryptsetup spends its PBKDF or a download is checked) and `signal`
 * (cancellation) for the current activity; both absent outside one.
 */
export async function withActivityProgress<T>(work: (progress: { onProgress?: (progress: ByteProgress) => void; signal?: AbortSignal }) => Promise<T>): Promise<T> {
  const context = currentContext();
  if (!context) return work({});
  const heartbeats = progressHeartbeats<ByteProgress>(context, { minIntervalMs: 1_000 });
  try {
    return await work({ onProgress: heartbeats.report, signal: context.cancellationSignal });
  } finally {
    heartbeats.stop();
  }
}
