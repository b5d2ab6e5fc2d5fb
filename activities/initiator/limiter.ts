// Bounds on concurrent work: a semaphore, and one semaphore per key (per iSCSI server) shared by every
// activity running in the worker process, so parallel batches together stay within a server's bound.

export type Limit = <T>(work: () => Promise<T>) => Promise<T>;

export function semaphore(size: number): Limit {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (work) => {
    if (active >= size) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

export function keyedSemaphores(size: number): <T>(key: string, work: () => Promise<T>) => Promise<T> {
  const limits = new Map<string, Limit>();
  return (key, work) => {
    let limit = limits.get(key);
    if (!limit) limits.set(key, (limit = semaphore(size)));
    return limit(work);
  };
}
