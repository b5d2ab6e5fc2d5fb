import { Worker } from '@temporalio/worker';
import { createRequire } from 'node:module';
import { createOrchestratorActivities } from '../activities/orchestrator';
import { connectWorker, shutdownGraceTime, temporalSettingsFromEnv, workerIdentity } from './connection';

const require = createRequire(import.meta.url);

export async function runOrchestrator(options: { taskQueue?: string }): Promise<void> {
  const settings = temporalSettingsFromEnv();
  const worker = await Worker.create({
    connection: await connectWorker(),
    namespace: settings.namespace,
    taskQueue: options.taskQueue ?? settings.taskQueue,
    workflowsPath: require.resolve('../workflows/index.ts'),
    activities: createOrchestratorActivities(),
    shutdownGraceTime,
    identity: workerIdentity(),
  });
  await worker.run();
}
