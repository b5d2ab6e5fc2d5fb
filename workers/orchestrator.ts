import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { createEncryptionHostActivities, encryptionHostId } from '../activities/encryptionHost';
import { createOrchestratorActivities } from '../activities/orchestrator';
import { createS3Client, s3SettingsFromEnv } from '../activities/s3/client';
import { encryptionHostTaskQueue } from '../lib/taskQueues';
import { readSettings } from '../settings/load';
import { connectWorker, workerCommon } from './connection';
import { serveHealth } from './health';
import { installMetrics } from './metrics';
import { announce, deploymentOptions, deploymentVersion, makeCurrent } from './versioning';

const require = createRequire(import.meta.url);
export const workflowsPath = require.resolve('../workflows/index.ts');

/** Every setting this role reads, checked before anything connects. */
export const orchestratorSettingGroups = ['temporal', 'worker', 'versioning', 's3', 'csm', 'luks', 'initiator'] as const;

/** Workflows and central activities; plus this host's queue for work that shares local files. */
export async function runOrchestrator(options: { taskQueue?: string }): Promise<void> {
  const settings = readSettings(orchestratorSettingGroups);
  installMetrics('orchestrator', settings.worker);
  const connection = await connectWorker(settings.temporal);
  const common = { connection, ...workerCommon({ ...settings.temporal, ...settings.worker }) };
  // The code is read (or bundled) here, not by the SDK: its hash is the default build id.
  const code = settings.worker.WORKFLOW_BUNDLE ? fs.readFileSync(settings.worker.WORKFLOW_BUNDLE, 'utf8') : (await bundleWorkflowCode({ workflowsPath })).code;
  const version = deploymentVersion(settings.versioning, code);
  const central = await Worker.create({
    ...common,
    taskQueue: options.taskQueue ?? settings.temporal.IMAGE_TASK_QUEUE,
    workflowBundle: { code },
    workerDeploymentOptions: deploymentOptions(version),
    activities: createOrchestratorActivities(),
    maxConcurrentActivityTaskExecutions: settings.worker.ORCHESTRATOR_ACTIVITY_CONCURRENCY,
    ...(settings.worker.WORKER_STICKY_CACHE_SIZE ? { maxCachedWorkflows: settings.worker.WORKER_STICKY_CACHE_SIZE } : {}),
  });
  // Unversioned, like the agents: activities only, so a pinned run's activity here may run on
  // another build of this host; activity inputs stay compatible across versions.
  const host = await Worker.create({
    ...common,
    taskQueue: encryptionHostTaskQueue(encryptionHostId()),
    maxConcurrentActivityTaskExecutions: settings.worker.ENCRYPTION_HOST_CONCURRENCY,
    activities: createEncryptionHostActivities(createS3Client(s3SettingsFromEnv())),
  });
  serveHealth(settings.worker, [central, host]);
  const running = Promise.all([central.run(), host.run()]);
  if (settings.versioning.WORKER_SET_CURRENT) await makeCurrent(connection, settings.temporal.TEMPORAL_NAMESPACE, version, central.options.identity);
  announce(version, settings.versioning.WORKER_SET_CURRENT);
  await running;
}
