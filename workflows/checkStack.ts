// checkStack: proves the wiring end to end. S3 is written and read by the orchestrator worker;
// each iSCSI server's agent lists the targets of its own tgtd.
import { proxyActivities } from '@temporalio/workflow';
import type { IscsiServerActivities } from '../activities/iscsiServer';
import type { OrchestratorActivities } from '../activities/orchestrator';
import { iscsiServerTaskQueue } from '../lib/taskQueues';

export interface CheckStackInput {
  bucket: string;
  iscsiServers: string[];
}

export interface CheckStackResult {
  s3: { key: string; etag: string; bytesWritten: number; bytesRead: number; intact: boolean };
  iscsiServers: { server: string; targets: string[] }[];
}

const central = proxyActivities<OrchestratorActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3 },
});

export async function checkStack(input: CheckStackInput): Promise<CheckStackResult> {
  const key = `check-stack/${Date.now()}.txt`;
  const roundTrip = await central.roundTripObject({ bucket: input.bucket, key, text: `written by checkStack at ${new Date().toISOString()}` });
  const iscsiServers = await Promise.all(
    input.iscsiServers.map((server) =>
      proxyActivities<IscsiServerActivities>({
        taskQueue: iscsiServerTaskQueue(server),
        startToCloseTimeout: '30s',
        scheduleToStartTimeout: '1m',
        retry: { maximumAttempts: 3 },
      }).listTargets(),
    ),
  );
  return {
    s3: {
      key,
      etag: roundTrip.etag,
      bytesWritten: roundTrip.bytesWritten,
      bytesRead: roundTrip.bytesRead,
      intact: roundTrip.sha256Read === roundTrip.sha256Written,
    },
    iscsiServers,
  };
}
