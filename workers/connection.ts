import { NativeConnection } from '@temporalio/worker';

export function temporalSettingsFromEnv(env: NodeJS.ProcessEnv = process.env) {
  return {
    address: env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    namespace: env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: env.IMAGE_TASK_QUEUE ?? 'boot-image',
  };
}

export const connectWorker = () => NativeConnection.connect({ address: temporalSettingsFromEnv().address });

/** The dev stack names each worker process, so its health check finds this very process polling. */
export const workerIdentity = () => process.env.WORKER_IDENTITY;

/** Long uploads need time to stop cleanly: the SDK's default grace time of 0 cancels them at once. */
export const shutdownGraceTime = '30s';
