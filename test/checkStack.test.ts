import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { devStack } from '../dev/config';
import { tgtadm } from '../activities/tgt/tgtadm';
import { checkStack } from '../workflows/checkStack';
import { connectClient, uniqueId } from './helpers/temporal';

describe('checkStack workflow (real Temporal, S3 and two tgtd servers)', () => {
  let client: Client;
  const [first, second] = devStack.iscsiServers;
  const tid = 900 + Math.floor(Math.random() * 90);
  const iqn = `iqn.2026-11.test.check-stack:${uniqueId('t')}`;

  beforeAll(async () => {
    client = await connectClient();
    await tgtadm(second.controlPort, ['--op', 'new', '--mode', 'target', '--tid', String(tid), '--targetname', iqn]);
  });
  afterAll(async () => {
    await tgtadm(second.controlPort, ['--op', 'delete', '--mode', 'target', '--tid', String(tid), '--force']);
    await client.connection.close();
  });

  it('writes and reads S3 and lists each server\'s own targets from its agent', async () => {
    const workflowId = uniqueId('check-stack');
    const result = await client.workflow.execute(checkStack, {
      taskQueue: devStack.temporal.taskQueue,
      workflowId,
      args: [{ bucket: 'boot-images', iscsiServers: [first.name, second.name] }],
    });

    expect(result.s3.intact).toBe(true);
    expect(result.s3.bytesRead).toBe(result.s3.bytesWritten);
    expect(result.s3.etag).toMatch(/^[0-9a-f]{32}$/);
    const byServer = Object.fromEntries(result.iscsiServers.map((s) => [s.server, s.targets]));
    expect(byServer[second.name]).toContain(iqn);
    expect(byServer[first.name]).not.toContain(iqn);

    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = history.events!.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => ({
      type: e.activityTaskScheduledEventAttributes!.activityType!.name,
      queue: e.activityTaskScheduledEventAttributes!.taskQueue!.name,
    }));
    expect(scheduled).toEqual(
      expect.arrayContaining([
        { type: 'roundTripObject', queue: devStack.temporal.taskQueue },
        { type: 'listTargets', queue: `iscsi-server-${first.name}` },
        { type: 'listTargets', queue: `iscsi-server-${second.name}` },
      ]),
    );
  });
});
