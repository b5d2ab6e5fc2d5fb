// Target tools are not safe to run concurrently on one server (targetcli takes a global lock and fails
// or waits; tgtadm TID/LUN allocation races), so each driver runs its operations one at a time.

/** Returns a function that runs tasks one after another, in call order, whatever their outcome. */
export function serialQueue(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return (task) => {
    const run = tail.then(task, task);
    tail = run.catch(() => undefined);
    return run;
  };
}
