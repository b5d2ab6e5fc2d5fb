import { Worker } from '@temporalio/worker';
import { createRequire } from 'node:module';
import { createEncryptionHostActivities, encryptionHostId } from '../activities/encryptionHost';
import { createOrchestratorActivities } from '../activities/orchestrator';
import { createS3Client, s3SettingsFromEnv } from '../activities/s3/client';
import { encryptionHostTaskQueue } from '../lib/taskQueues';
import { readSettings } from '../settings/load';
import { connectWorker, workerCommon } from './connection';
import { serveHealth } from './health';
import { installMetrics } from './metrics';

const require = createRequire(import.meta.url);
export const workflowsPath = require.resolve('../workflows/index.ts');

/** Every setting this role reads, checked before anything connects. */
export const orchestratorSettingGroups = ['temporal', 'worker', 's3', 'csm', 'luks', 'initiator'] as const;

/** Workflows and central activities; plus this host's queue for work that shares local files. */
export async function runOrchestrator(options: { taskQueue?: string }): Promise<void> {
  const settings = readSettings(orchestratorSettingGroups);
  installMetrics('orchestrator', settings.worker);
  const common = { connection: await connectWorker(settings.temporal), ...workerCommon({ ...settings.temporal, ...settings.worker }) };
  const central = await Worker.create({
    ...common,
    taskQueue: options.taskQueue ?? settings.temporal.IMAGE_TASK_QUEUE,
    ...(settings.worker.WORKFLOW_BUNDLE ? { workflowBundle: { codePath: settings.worker.WORKFLOW_BUNDLE } } : { workflowsPath }),
    activities: createOrchestratorActivities(),
    maxConcurrentActivityTaskExecutions: settings.worker.ORCHESTRATOR_ACTIVITY_CONCURRENCY,
    ...(settings.worker.WORKER_STICKY_CACHE_SIZE ? { maxCachedWorkflows: settings.worker.WORKER_STICKY_CACHE_SIZE } : {}),
  });
  const host = await Worker.create({
    ...common,
    taskQueue: encryptionHostTaskQueue(encryptionHostId()),
    maxConcurrentActivityTaskExecutions: settings.worker.ENCRYPTION_HOST_CONCURRENCY,
    activities: createEncryptionHostActivities(createS3Client(s3SettingsFromEnv())),
  });
  serveHealth(settings.worker, [central, host]);
  await Promise.all([central.run(), host.run()]);
}
