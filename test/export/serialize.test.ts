// One target operation at a time per server, but an attempt that gave up (cancelled, timed out) leaves
// the queue at once, and a running tool is killed when its attempt is cancelled.
import { describe, expect, it } from 'vitest';
import { localRunner } from '../../activities/export/commandRunner';
import { OperationAborted, serialQueue } from '../../activities/export/serialize';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe('serialQueue', () => {
  it('runs tasks one at a time in call order, whatever their outcome', async () => {
    const serially = serialQueue();
    const order: string[] = [];
    const gate = deferred();
    const first = serially(async () => {
      order.push('first starts');
      await gate.promise;
      order.push('first ends');
      throw new Error('first failed');
    });
    const second = serially(async () => void order.push('second runs'));
    await Promise.resolve();
    expect(order).toEqual(['first starts']);
    gate.resolve();
    await expect(first).rejects.toThrow('first failed');
    await second;
    expect(order).toEqual(['first starts', 'first ends', 'second runs']);
  });

  it('a waiting task whose signal aborts leaves at once, is never run, and the queue goes on', async () => {
    const serially = serialQueue();
    const gate = deferred();
    const running = serially(() => gate.promise);
    const abort = new AbortController();
    let ran = false;
    const waiting = serially(async () => void (ran = true), abort.signal);
    const after = serially(async () => 'after');
    abort.abort(new Error('attempt timed out'));
    await expect(waiting).rejects.toBeInstanceOf(OperationAborted);
    gate.resolve();
    await running;
    expect(await after).toBe('after');
    expect(ran).toBe(false);
  });
});

describe('localRunner', () => {
  it('kills the running command when its signal aborts', async () => {
    const abort = new AbortController();
    const run = localRunner().run(['sleep', '30'], { signal: abort.signal });
    setTimeout(() => abort.abort(new Error('cancelled')), 200);
    await expect(run).rejects.toBeInstanceOf(OperationAborted);
  });
});
