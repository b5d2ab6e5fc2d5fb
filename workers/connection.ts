import { NativeConnection } from '@temporalio/worker';
import type { GroupSettings } from '../settings/schema';
import { temporalConnectionOptions } from '../settings/temporalConnection';

export const connectWorker = (settings: GroupSettings<'temporal'>) => NativeConnection.connect(temporalConnectionOptions(settings));

/**
 * What every worker of a process shares. The identity only when set (the dev stack names each
 * process, so its health check finds this very process polling): the SDK refuses an explicit undefined.
 */
export function workerCommon(settings: GroupSettings<'temporal'> & GroupSettings<'worker'>) {
  return {
    namespace: settings.TEMPORAL_NAMESPACE,
    ...(settings.WORKER_IDENTITY ? { identity: settings.WORKER_IDENTITY } : {}),
    // Long uploads need time to stop cleanly: the SDK's default grace time of 0 cancels them at once.
    shutdownGraceTime: `${settings.WORKER_SHUTDOWN_GRACE_SECONDS}s`,
  };
}
