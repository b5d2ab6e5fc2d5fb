// Node claims on the dev stack's S3: one change at a time per node, never two admitted.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NodeLocks } from '../../activities/bss/nodeLocks';
import { expandNodeset } from '../../lib/nodeset';
import { objectStore } from '../helpers/images';

/** Locks under a prefix of their own; `running` is the set of change ids whose workflows still run. */
function locks(running: Set<string>) {
  const prefix = `s3://ims/node-locks-test/${randomUUID()}`;
  return { prefix, locks: new NodeLocks(objectStore, prefix, async (changeId) => running.has(changeId)) };
}
const failureOf = (promise: Promise<unknown>) => promise.then(() => undefined, (error: Error) => error);

describe('NodeLocks', () => {
  it('refuses a change whose nodes a running change holds, naming it and exactly the shared nodes; disjoint changes go together', async () => {
    const running = new Set(['change-a', 'change-b', 'change-c']);
    const { prefix, locks: nodeLocks } = locks(running);
    await nodeLocks.claim('change-a', 'wf-a/run', expandNodeset('x1c0s[0-3]b0n0'));
    const refused = await failureOf(nodeLocks.claim('change-b', 'wf-b/run', expandNodeset('x1c0s[2-5]b0n0')));
    expect(refused).toMatchObject({ type: 'NodesHeld', message: 'another rollout is changing these nodes: change change-a holds x1c0s[2-3]b0n0' });
    await nodeLocks.claim('change-c', 'wf-c/run', expandNodeset('x1c0s[4-5]b0n0'));
    expect((await objectStore.list(`${prefix}/`)).sort()).toEqual([nodeLocks.pathFor('change-a'), nodeLocks.pathFor('change-c')].sort());
  });

  it('never admits two changes claiming overlapping nodes at the same moment', async () => {
    for (let round = 0; round < 8; round++) {
      const running = new Set(['x', 'y']);
      const { prefix, locks: nodeLocks } = locks(running);
      const outcomes = await Promise.all([
        failureOf(nodeLocks.claim('x', 'wf-x/run', expandNodeset('x2c0s[0-99]b0n0'))),
        failureOf(nodeLocks.claim('y', 'wf-y/run', expandNodeset('x2c0s[50-149]b0n0'))),
      ]);
      const admitted = outcomes.filter((outcome) => outcome === undefined).length;
      expect(admitted).toBeLessThanOrEqual(1);
      for (const outcome of outcomes) if (outcome) expect(outcome).toMatchObject({ type: 'NodesHeld' });
      expect((await objectStore.list(`${prefix}/`)).length).toBe(admitted);
    }
  });

  it('takes nodes over from a change that no longer runs, removing its stale claim; a release frees them', async () => {
    const running = new Set(['old', 'new', 'next']);
    const { prefix, locks: nodeLocks } = locks(running);
    await nodeLocks.claim('old', 'wf-old/run', expandNodeset('x3c0s[0-9]b0n0'));
    running.delete('old'); // terminated
    await nodeLocks.claim('new', 'wf-new/run', expandNodeset('x3c0s[0-9]b0n0'));
    expect(await objectStore.list(`${prefix}/`)).toEqual([nodeLocks.pathFor('new')]);
    await nodeLocks.release('new');
    await nodeLocks.claim('next', 'wf-next/run', expandNodeset('x3c0s[0-9]b0n0'));
    expect(await objectStore.list(`${prefix}/`)).toEqual([nodeLocks.pathFor('next')]);
  });
});
