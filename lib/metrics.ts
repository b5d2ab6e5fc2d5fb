// The project's own Prometheus series: one catalogue for the code that records them (workflows through
// the SDK's workflow meter, activities through the activity meter), the README and the Grafana dashboard.
// Workers serve them beside the SDK's own temporal_* series (see workers/metrics.ts).

export interface MetricSpec {
  name: string;
  kind: 'counter' | 'histogram';
  /** The labels we add; the SDK adds namespace, taskQueue and workflowType or activityType. */
  labels: readonly string[];
  help: string;
  /** Which worker role serves it. */
  role: 'orchestrator' | 'iscsi-server';
}

export const metricCatalogue = {
  uploadedBytes: {
    name: 'boot_image_uploaded_bytes',
    kind: 'counter',
    labels: [],
    help: 'Bytes of image artifacts uploaded to S3 (each artifact once it is complete)',
    role: 'orchestrator',
  },
  stagedBytes: {
    name: 'boot_image_staged_bytes',
    kind: 'counter',
    labels: ['server'],
    help: 'Bytes downloaded from S3 into an iSCSI server\'s staging cache',
    role: 'iscsi-server',
  },
  attemptsFailed: {
    name: 'boot_image_attempts_failed',
    kind: 'counter',
    labels: ['failure_type'],
    help: 'Failed attempts of workflow steps, by failure type (each one is in the history)',
    role: 'orchestrator',
  },
  repairs: {
    name: 'boot_image_repairs',
    kind: 'counter',
    labels: ['failure_type', 'outcome'],
    help: 'Repairs run between attempts, by the failure type they repair and outcome (repaired, repair-failed)',
    role: 'orchestrator',
  },
  nodesValidated: {
    name: 'boot_image_nodes_validated',
    kind: 'counter',
    labels: ['verdict'],
    help: 'Initiator nodes checked by validation, by verdict (passed, failed)',
    role: 'orchestrator',
  },
  rollbacks: {
    name: 'boot_image_rollbacks',
    kind: 'counter',
    labels: ['outcome'],
    help: 'Boot-parameter rollbacks, by outcome (completed, failed)',
    role: 'orchestrator',
  },
  phaseDuration: {
    name: 'boot_image_phase_duration_seconds',
    kind: 'histogram',
    labels: ['phase', 'outcome'],
    help: 'Duration of each lifecycle phase (child workflow), by phase and outcome (completed, failed)',
    role: 'orchestrator',
  },
} as const satisfies Record<string, MetricSpec>;

/** Bucket bounds of the phase-duration histogram, in seconds: phases take from seconds to hours. */
export const phaseDurationBuckets = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400];
