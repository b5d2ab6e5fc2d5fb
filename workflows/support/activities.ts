// Activity stubs for workflows. Every stub makes exactly one attempt: retries are the workflow's
// (see attempt.ts), so each one is an event in the history that operators read. Stubs are taken
// per call with the label of the attempt making it (`central(label).getImage(...)`), the call's
// summary, which the Temporal UI and imagectl show.
import { proxyActivities, type ActivityInterfaceFor, type ActivityOptions } from '@temporalio/workflow';
import type { BssActivities } from '../../activities/bss/activities';
import type { IscsiServerActivities } from '../../activities/iscsiServer';
import type { OrchestratorActivities } from '../../activities/orchestrator';
import { iscsiServerTaskQueue } from '../../lib/taskQueues';

const singleAttempt = { maximumAttempts: 1 };

export const labelledActivities =
  <A>(options: ActivityOptions) =>
  (label: string): ActivityInterfaceFor<A> =>
    proxyActivities<A>({ ...options, summary: label });

/** Quick calls to S3 and the CSM services. */
export const central = labelledActivities<OrchestratorActivities>({
  startToCloseTimeout: '2m',
  retry: singleAttempt,
});

/** Streaming work (uploads, digests): long, with heartbeats so a dead worker is noticed quickly. */
export const streaming = labelledActivities<OrchestratorActivities>({
  startToCloseTimeout: '12h',
  heartbeatTimeout: '30s',
  retry: singleAttempt,
});

/** Boot parameter activities: BSS and S3 calls sized by the node count, with heartbeats. */
export const bootParameterActivities = labelledActivities<BssActivities>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '1m',
  retry: singleAttempt,
});

/** Work that runs on one iSCSI server, through the agent polling that server's queue. */
export const onIscsiServer = (server: string, options: Partial<ActivityOptions> = {}) =>
  labelledActivities<IscsiServerActivities>({
    taskQueue: iscsiServerTaskQueue(server),
    startToCloseTimeout: '30m',
    heartbeatTimeout: '1m',
    scheduleToStartTimeout: '10m',
    retry: singleAttempt,
    ...options,
  });
