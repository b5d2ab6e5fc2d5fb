// Activity stubs for workflows. Every stub makes exactly one attempt: retries are the workflow's
// (see attempt.ts), so each one is an event in the history that operators read.
import { proxyActivities } from '@temporalio/workflow';
import type { OrchestratorActivities } from '../../activities/orchestrator';

const singleAttempt = { maximumAttempts: 1 };

/** Quick calls to S3 and the CSM services. */
export const central = proxyActivities<OrchestratorActivities>({
  startToCloseTimeout: '2m',
  retry: singleAttempt,
});

/** Streaming work (uploads, digests): long, with heartbeats so a dead worker is noticed quickly. */
export const streaming = proxyActivities<OrchestratorActivities>({
  startToCloseTimeout: '12h',
  heartbeatTimeout: '30s',
  retry: singleAttempt,
});
