import { Worker } from '@temporalio/worker';
import { createIscsiServerActivities } from '../activities/iscsiServer';
import { iscsiServerTaskQueue } from '../lib/taskQueues';
import { connectWorker, shutdownGraceTime, temporalSettingsFromEnv, workerIdentity } from './connection';

export async function runIscsiServerAgent(options: { server: string }): Promise<void> {
  const worker = await Worker.create({
    connection: await connectWorker(),
    namespace: temporalSettingsFromEnv().namespace,
    taskQueue: iscsiServerTaskQueue(options.server),
    activities: createIscsiServerActivities(options.server),
    // One operation at a time on a server: targetcli/tgtadm changes must not interleave.
    maxConcurrentActivityTaskExecutions: 1,
    shutdownGraceTime,
    identity: workerIdentity(),
  });
  await worker.run();
}
