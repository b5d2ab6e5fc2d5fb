// customizeImage: seed 002 sections 3-4. CFS customizes an IMS image into a new one.
//   1. the image must exist in IMS (CFS itself would wait forever for a missing one)
//   2. the configuration exists, or is created/updated from the given layers
//   3. a session with a deterministic name (a re-run adopts it instead of starting another)
//   4. wait for it under a deadline; a hung session is deleted, and so is one we cancel
//   5. success only when complete, succeeded "true" and an ims_customized_image artifact exists
//   6. the resultant image's manifest is checked against S3 (etag faults repaired)
import { CancellationScope, workflowInfo } from '@temporalio/workflow';
import type { CfsSession } from '../activities/cfs/client';
import { customizationSessionName } from '../lib/cfsNames';
import { FailureType, permanentFailure } from '../lib/failures';
import { CustomizeSpec } from '../lib/specs/customizeSpec';
import { central, labelledActivities } from './support/activities';
import type { OrchestratorActivities } from '../activities/orchestrator';
import { attempt } from './support/attempt';
import { parseInput } from './support/input';
import { checkedManifest, imageWithManifest } from './support/manifests';
import { trackStatus } from './support/status';

export interface CustomizeResult {
  sourceImageId: string;
  resultImageId: string;
  sessionName: string;
  adoptedSession: boolean;
  manifest: { path: string; etag: string; type: 's3' };
}

export async function customizeImage(raw: unknown): Promise<CustomizeResult> {
  const spec = await parseInput(CustomizeSpec, raw, 'customize spec');
  const status = trackStatus('customize', { imageId: spec.imageId });
  const requestId = workflowInfo().workflowId;
  const sessionName = customizationSessionName(requestId, spec.imageId);
  status.detail('cfsSession', sessionName);

  status.step('check image in IMS');
  await attempt('check image in IMS', (label) => central(label).getImage({ imageId: spec.imageId }));
  status.step('CFS configuration');
  await attempt(spec.layers ? 'update CFS configuration' : 'check CFS configuration', (label) =>
    central(label).ensureConfiguration({
      name: spec.configuration,
      layers: spec.layers?.map((l) => ({ name: l.name, clone_url: l.cloneUrl, playbook: l.playbook, commit: l.commit, branch: l.branch })),
    }),
  );

  status.step('create CFS session');
  const { adopted } = await attempt('create CFS session', (label) =>
    central(label).createImageSession({ sessionName, configuration: spec.configuration, imageId: spec.imageId, resultName: spec.resultName, requestId }),
  );

  let session: CfsSession;
  try {
    status.step('wait for CFS session');
    session = await waitUntilDone(sessionName, Date.now() + spec.deadlineMinutes * 60_000, spec.pollIntervalSeconds * 1000);
  } catch (error) {
    await CancellationScope.nonCancellable(() => attempt('delete CFS session', (label) => central(label).deleteSession({ sessionName })));
    throw error;
  }

  const resultImageId = customizedImageId(session, spec.imageId);
  status.step('check resultant manifest');
  const { manifestPath } = await imageWithManifest(resultImageId, 'get resultant image', `resultant image ${resultImageId}`);
  const checked = await checkedManifest(manifestPath, 'check resultant manifest');
  status.step('done');
  return { sourceImageId: spec.imageId, resultImageId, sessionName, adoptedSession: adopted, manifest: checked.link };
}

/** One long activity polls the session; a worker lost on the way costs one more attempt, not the session. */
async function waitUntilDone(sessionName: string, deadlineMs: number, pollIntervalMs: number): Promise<CfsSession> {
  const cfsWait = labelledActivities<OrchestratorActivities>({
    startToCloseTimeout: Math.max(deadlineMs - Date.now(), 0) + 5 * 60_000,
    heartbeatTimeout: Math.max(3 * pollIntervalMs, 60_000),
    retry: { maximumAttempts: 1 },
  });
  const outcome = await attempt('wait for CFS session', (label) =>
    cfsWait(label).waitForSession({ sessionName, deadline: new Date(deadlineMs).toISOString(), pollIntervalMs }),
  );
  if (outcome.timedOut) {
    throw permanentFailure(
      FailureType.CustomizationTimedOut,
      `CFS session ${sessionName} still ${outcome.progress.status} at the deadline (${outcome.progress.polls} polls); it was deleted`,
      outcome.progress,
    );
  }
  return outcome.session!;
}

function customizedImageId(session: CfsSession, sourceImageId: string): string {
  const state = session.status?.session;
  const details = { session: session.name, status: state?.status, succeeded: state?.succeeded, artifacts: session.status?.artifacts ?? [] };
  if (state?.succeeded !== 'true') {
    throw permanentFailure(FailureType.CustomizationFailed, `CFS session ${session.name} completed with succeeded=${JSON.stringify(state?.succeeded)}`, details);
  }
  const artifact = session.status?.artifacts?.find((a) => a.type === 'ims_customized_image' && a.image_id === sourceImageId && a.result_id);
  if (!artifact) throw permanentFailure(FailureType.CustomizationFailed, `CFS session ${session.name} succeeded but lists no ims_customized_image for ${sourceImageId}`, details);
  return artifact.result_id!;
}
