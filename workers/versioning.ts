// Worker Versioning of the orchestrator workers (README, "Upgrading workers"). Every replica with
// the same workflow code is one version of one Worker Deployment; every workflow stays on the version
// it started on (PINNED), so a deploy never replays a running rollout against new code. New workflows go to the deployment's current version only: a version nobody made current
// gets none, which is why a worker either promotes itself (WORKER_SET_CURRENT) or logs the command.
import type { NativeConnection, WorkerDeploymentOptions } from '@temporalio/worker';
import { createHash } from 'node:crypto';
import type { GroupSettings } from '../settings/schema';

export interface DeploymentVersion {
  deploymentName: string;
  buildId: string;
}

/** The configured build id, or one derived from the workflow code: replicas of the same code agree. */
export function deploymentVersion(settings: GroupSettings<'versioning'>, workflowCode: string): DeploymentVersion {
  return {
    deploymentName: settings.WORKER_DEPLOYMENT_NAME,
    buildId: settings.WORKER_BUILD_ID ?? createHash('sha256').update(workflowCode).digest('hex').slice(0, 16),
  };
}

export const deploymentOptions = (version: DeploymentVersion): WorkerDeploymentOptions => ({
  useWorkerVersioning: true,
  version,
  // Every type, on the worker rather than per workflow: the same workflows then still run on the
  // unversioned workers of tests, which the server refuses a per-workflow behaviour from.
  defaultVersioningBehavior: 'PINNED',
});

const setCurrentCommand = (version: DeploymentVersion) =>
  `temporal worker deployment set-current-version --deployment-name ${version.deploymentName} --build-id ${version.buildId}`;

/**
 * Makes the version current once the server knows it (it does after this worker's first poll).
 * Gives up loudly: a worker left on a version nobody routes to would poll without ever working.
 */
export async function makeCurrent(connection: NativeConnection, namespace: string, version: DeploymentVersion, identity: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { workerDeploymentInfo } = await connection.workflowService.describeWorkerDeployment({ namespace, deploymentName: version.deploymentName });
      if (workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId === version.buildId) return;
      await connection.workflowService.setWorkerDeploymentCurrentVersion({ namespace, deploymentName: version.deploymentName, buildId: version.buildId, identity });
      return;
    } catch (error) {
      // NOT_FOUND / FAILED_PRECONDITION until the first poll registers the version; ABORTED on a race with another replica.
      const code = (error as { code?: number }).code;
      if (![5, 9, 10].includes(code ?? -1) || Date.now() > deadline) {
        throw new Error(`could not make ${version.deploymentName}:${version.buildId} the current version (${(error as Error).message}); run: ${setCurrentCommand(version)}`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

export function announce(version: DeploymentVersion, current: boolean): void {
  console.log(
    current
      ? `worker deployment ${version.deploymentName}: build ${version.buildId} is current`
      : `worker deployment ${version.deploymentName}: build ${version.buildId} polls; new workflows reach it once it is current: ${setCurrentCommand(version)}`,
  );
}
