// Each worker process serves Prometheus metrics at http://METRICS_BIND_ADDRESS/metrics: the SDK's
// temporal_* series (task slots, poll and schedule latencies, workflow and activity outcomes) and ours
// (lib/metrics.ts). The SDK's runtime, which serves them, must be installed before any connection.
import { Runtime } from '@temporalio/worker';
import { metricCatalogue, phaseDurationBuckets } from '../lib/metrics';
import type { GroupSettings } from '../settings/schema';

export type WorkerRole = 'orchestrator' | 'iscsi-server';

/** Every interface by default, for a Prometheus elsewhere; a port per role, so both roles fit on one host. */
export const defaultMetricsAddress: Record<WorkerRole, string> = {
  orchestrator: '0.0.0.0:9464',
  'iscsi-server': '0.0.0.0:9465',
};

/** METRICS_BIND_ADDRESS (settings/schema.ts), the role's default when unset, none when set empty. */
export function metricsBindAddress(role: WorkerRole, settings: GroupSettings<'worker'>): string | undefined {
  const address = settings.METRICS_BIND_ADDRESS ?? defaultMetricsAddress[role];
  return address === '' ? undefined : address;
}

/** Before the process's first connection to Temporal: the SDK's runtime is installed once. */
export function installMetrics(role: WorkerRole, settings: GroupSettings<'worker'>): void {
  const bindAddress = metricsBindAddress(role, settings);
  if (!bindAddress) return;
  try {
    Runtime.install({
      telemetryOptions: {
        metrics: { prometheus: { bindAddress, histogramBucketOverrides: { [metricCatalogue.phaseDuration.name]: phaseDurationBuckets } } },
      },
    });
  } catch (error) {
    throw new Error(`cannot serve metrics on METRICS_BIND_ADDRESS=${bindAddress}: ${(error as Error).message}`);
  }
}
