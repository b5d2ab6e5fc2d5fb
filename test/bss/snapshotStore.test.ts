// The snapshot store's parsed copies, on each of the dev stack's S3 servers: reused while the object in
// S3 is the one parsed, never once it was rewritten or deleted.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SnapshotStore, type BssSnapshot } from '../../activities/bss/snapshot';
import { ObjectStore } from '../../activities/manifest/objectStore';
import { s3ClientOf, s3Servers } from '../helpers/s3Servers';

const snapshotOf = (changeId: string, params: string): BssSnapshot => ({
  version: 1,
  changeId,
  owner: `${changeId}/run-1`,
  takenAt: '2026-01-01T00:00:00.000Z',
  nodes: ['x1c0s0b0n0', 'x1c0s1b0n0'],
  entries: { x1c0s0b0n0: { kernel: 's3://boot-images/a/kernel', initrd: 's3://boot-images/a/initrd', params }, x1c0s1b0n0: null },
});

describe.each(s3Servers)('SnapshotStore on $backend', (server) => {
  const objectStore = new ObjectStore(s3ClientOf(server));
  const prefix = `s3://ims/bss-snapshots-test/${randomUUID()}`;

  it('reads a snapshot it wrote or parsed before without parsing it again while S3 has the same object', async () => {
    const store = new SnapshotStore(objectStore, prefix);
    const changeId = `change-${randomUUID()}`;
    const written = snapshotOf(changeId, 'quiet');
    await store.write(written);
    expect(await store.read(changeId)).toBe(written);
    const otherWorker = new SnapshotStore(objectStore, prefix);
    const first = await otherWorker.read(changeId);
    expect(first).toEqual(written);
    expect(await otherWorker.read(changeId)).toBe(first);
  });

  it('reads anew a snapshot rewritten under the same change id (by another worker), and none once it is deleted', async () => {
    const store = new SnapshotStore(objectStore, prefix);
    const otherWorker = new SnapshotStore(objectStore, prefix);
    const changeId = `change-${randomUUID()}`;
    await store.write(snapshotOf(changeId, 'quiet'));
    expect((await store.read(changeId))!.entries.x1c0s0b0n0).toMatchObject({ params: 'quiet' });
    const rewritten = { ...snapshotOf(changeId, 'rewritten'), owner: `${changeId}/run-2` };
    await otherWorker.write(rewritten);
    expect(await store.read(changeId)).toEqual(rewritten);
    await objectStore.delete(store.pathFor(changeId));
    expect(await store.read(changeId)).toBeNull();
    await expect(store.require(changeId)).rejects.toMatchObject({ type: 'InvalidInput' });
  });
});
