// Each worker process serves Prometheus metrics at http://METRICS_BIND_ADDRESS/metrics: the SDK's
// temporal_* series (task slots, poll and schedule latencies, workflow and activity outcomes) and ours
// (lib/metrics.ts). The SDK's runtime, which serves them, must be installed before any connection.
import { Runtime } from '@temporalio/worker';
import { metricCatalogue, phaseDurationBuckets } from '../lib/metrics';

export type WorkerRole = 'orchestrator' | 'iscsi-server';

/** Every interface by default, for a Prometheus elsewhere; a port per role, so both roles fit on one host. */
export const defaultMetricsAddress: Record<WorkerRole, string> = {
  orchestrator: '0.0.0.0:9464',
  'iscsi-server': '0.0.0.0:9465',
};

/** METRICS_BIND_ADDRESS (host:port), the role's default when unset, none when set empty. */
export function metricsBindAddress(role: WorkerRole, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const address = env.METRICS_BIND_ADDRESS ?? defaultMetricsAddress[role];
  if (address === '') return undefined;
  const port = /^(?:[\w.-]+|\[[\da-fA-F:]+\]):(\d{1,5})$/.exec(address)?.[1];
  if (!port || Number(port) > 65535) throw new Error(`METRICS_BIND_ADDRESS must be host:port (or empty for no metrics), not "${address}"`);
  return address;
}

export function installMetrics(role: WorkerRole, env: NodeJS.ProcessEnv = process.env): void {
  const bindAddress = metricsBindAddress(role, env);
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
