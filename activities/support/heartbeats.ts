import type { Context } from '@temporalio/activity';

/**
 * Heartbeats the latest progress: at most once per `minIntervalMs` as progress comes in, and
 * every `keepAliveMs` while none comes (a large part on a slow link must not look like a dead worker).
 */
export function progressHeartbeats<P>(context: Context, { initial = undefined as P | undefined, minIntervalMs = 0, keepAliveMs = 5_000 } = {}) {
  // Starting from the progress an attempt resumes keeps it in the details should this one die early.
  let latest = initial;
  let sentAt = 0;
  let unsent = false;
  const send = () => {
    sentAt = Date.now();
    unsent = false;
    context.heartbeat(latest);
  };
  const keepAlive = setInterval(send, keepAliveMs);
  return {
    report(progress: P) {
      latest = progress;
      unsent = true;
      if (Date.now() - sentAt >= minIntervalMs) send();
    },
    /** Stops the keep-alive, sending the last progress if throttling held it back. */
    stop() {
      clearInterval(keepAlive);
      if (unsent) send();
    },
  };
}
