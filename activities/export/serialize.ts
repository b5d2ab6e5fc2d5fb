// Target tools are not safe to run concurrently on one server (targetcli takes a global lock and fails
// or waits; tgtadm TID/LUN allocation races), so each driver runs its operations one at a time. A task
// whose signal aborts while it waits leaves the queue at once: an attempt that timed out must not hold
// up the attempt that replaces it.

export class OperationAborted extends Error {
  constructor(reason: unknown) {
    super(`stopped before it ran: ${reason instanceof Error ? reason.message : String(reason ?? 'cancelled')}`);
    this.name = 'OperationAborted';
  }
}

/** Returns a function that runs tasks one after another, in call order, whatever their outcome. */
export function serialQueue(): <T>(task: () => Promise<T>, signal?: AbortSignal) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>, signal?: AbortSignal) => {
    const turn = tail;
    const run = new Promise<T>((resolve, reject) => {
      const abandon = () => reject(new OperationAborted(signal?.reason));
      if (signal?.aborted) return abandon();
      signal?.addEventListener('abort', abandon, { once: true });
      void turn.then(() => {
        signal?.removeEventListener('abort', abandon);
        if (signal?.aborted) return abandon();
        task().then(resolve, reject);
      });
    });
    // The next task waits for this one to finish running, not for its caller to give up on it.
    tail = run.catch(() => undefined).then(() => turn);
    return run;
  };
}
