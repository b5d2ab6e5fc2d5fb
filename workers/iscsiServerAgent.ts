import { Worker } from '@temporalio/worker';
import { targetDriverFromEnv } from '../activities/export/activities';
import { createIscsiServerActivities } from '../activities/iscsiServer';
import { iscsiServerTaskQueue } from '../lib/taskQueues';
import { readSettings } from '../settings/load';
import { connectWorker, workerCommon } from './connection';
import { serveHealth } from './health';
import { installMetrics } from './metrics';

export const agentSettingGroups = ['temporal', 'worker', 's3', 'iscsiServer'] as const;

export async function runIscsiServerAgent(options: { server: string }): Promise<void> {
  const settings = readSettings(agentSettingGroups);
  installMetrics('iscsi-server', settings.worker);
  const driver = targetDriverFromEnv(options.server);
  const activities = createIscsiServerActivities(options.server, process.env, driver);
  if (driver.kind === 'tgt') {
    // tgtd forgets everything when it restarts; the agent's record puts every export back where it was.
    const restore = await driver.restoreConfig().catch((error: Error) => ({ restored: [], failed: [error.message] }));
    for (const line of restore.restored) console.error(`restored ${line}`);
    for (const line of restore.failed) console.error(`could not restore ${line}`);
  }
  const worker = await Worker.create({
    connection: await connectWorker(settings.temporal),
    ...workerCommon({ ...settings.temporal, ...settings.worker }),
    taskQueue: iscsiServerTaskQueue(options.server),
    activities,
    // Staging one image while exporting another; target changes themselves run one at a time in the driver.
    maxConcurrentActivityTaskExecutions: settings.iscsiServer.AGENT_ACTIVITY_CONCURRENCY,
    // Heartbeats carry cancellations back: a cancelled or timed-out export stops within seconds.
    maxHeartbeatThrottleInterval: '5s',
  });
  serveHealth(settings.worker, [worker]);
  await worker.run();
}
