// The upgrade procedure of the README ("Upgrading workers"), on the cluster profile, with the same
// commands an operator runs: a rollout awaits approval on build A; build B is deployed beside A and
// made current; the waiting rollout, once approved, finishes on A while a new one starts on B; then A
// drains and is stopped, and B carries on. Skipped on the dev profile.
import proto from '@temporalio/proto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { execa } from 'execa';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsmClient } from '../activities/csm/client';
import { devStack, stackEnvironment } from '../dev/config';
import { makeSampleImage } from '../dev/sampleImage';
import { expandNodeset } from '../lib/nodeset';
import { updateBootParameters } from '../workflows/updateBootParameters';
import { seedImage, type SeededImage } from './helpers/images';
import { connectClient, uniqueId } from './helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from './helpers/workerProcess';

const { temporal } = proto;
const cluster = process.env.DEV_STACK_PROFILE === 'cluster';
const csm = new CsmClient(devStack.csm);
const bssPath = '/apis/bss/boot/v1/bootparameters';
const operatorEnv = stackEnvironment();
/** A command of the README's procedure, as the operator types it. */
const run = async (command: string, ...args: string[]) => (await execa(command, args, { env: operatorEnv })).stdout;

describe.runIf(cluster)('upgrading the orchestrator workers while a rollout awaits approval', () => {
  const deployment = uniqueId('upgrade');
  const taskQueue = uniqueId('upgrade');
  const [buildA, buildB] = ['a', 'b'].map((name) => `${name}-${deployment}`);
  const workers: Partial<Record<'a' | 'b', WorkerProcess>> = {};
  const rollouts: WorkflowHandle[] = [];
  let client: Client;
  let image: SeededImage;
  const bundle = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'upgrade-bundle-')), 'workflows.js');
  // As a site's image carries it: the workflow code bundled once (the test's two builds share it).
  const startWorkers = (buildId: string) => startWorkerProcess(taskQueue, { WORKER_DEPLOYMENT_NAME: deployment, WORKER_BUILD_ID: buildId, WORKFLOW_BUNDLE: bundle });

  beforeAll(async () => {
    client = await connectClient();
    await execa('tsx', ['workers/bundleWorkflows.ts', bundle]);
    image = await seedImage(await makeSampleImage(fs.mkdtempSync(path.join(os.tmpdir(), 'upgrade-')), { payloadMiB: 1, label: deployment }));
  });
  afterAll(async () => {
    // A failed run leaves nothing waiting for workers that are gone.
    for (const handle of rollouts) await handle.terminate('upgrade test done').catch(() => undefined);
    for (const worker of Object.values(workers)) await worker?.kill();
    await client?.connection.close();
  });

  async function startRollout(prefix: string): Promise<WorkflowHandle<typeof updateBootParameters>> {
    const nodes = expandNodeset(`x${randomInt(1000, 9999)}c0s[0-1]b0n0`);
    for (const node of nodes) {
      await csm.request('POST', bssPath, { hosts: [node], kernel: 's3://boot-images/old/kernel', initrd: 's3://boot-images/old/initrd', params: 'console=ttyS0 root=sbps-s3:s3://boot-images/old/rootfs:abc:dvs:x:300:nmn0' });
    }
    const handle = await client.workflow.start(updateBootParameters, { taskQueue, workflowId: uniqueId(prefix), args: [{ imageId: image.imageId, nodes, canarySize: 1, approval: { required: true } }] });
    rollouts.push(handle);
    await until(async () => (await handle.query<{ step: string }>('status').catch(() => undefined))?.step === 'awaiting approval', `${handle.workflowId} awaits approval`);
    return handle;
  }

  const versionOf = async (handle: WorkflowHandle) => {
    const info = (await handle.describe()).raw.workflowExecutionInfo?.versioningInfo;
    return { buildId: info?.deploymentVersion?.buildId, pinned: info?.behavior === temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_PINNED };
  };

  /** The build of every workflow task the run completed, from its history. */
  async function buildsInHistory(handle: WorkflowHandle): Promise<string[]> {
    const history = await handle.fetchHistory();
    return (history.events ?? []).flatMap((event) => (event.workflowTaskCompletedEventAttributes ? [event.workflowTaskCompletedEventAttributes.deploymentVersion?.buildId ?? '(none)'] : []));
  }

  const approve = (handle: WorkflowHandle) => run('tsx', 'cli/imagectl.ts', 'approve', handle.workflowId, '--reason', 'upgrade test');
  const drainage = async (buildId: string) =>
    JSON.parse(await run('temporal', 'worker', 'deployment', 'describe-version', '--deployment-name', deployment, '--build-id', buildId, '--output', 'json')).drainageInfo.drainageStatus;

  it('finishes the waiting rollout on A, starts new ones on B, then A drains and stops', { timeout: 300_000 }, async () => {
    // The first install: A's workers, made current.
    workers.a = await startWorkers(buildA);
    await run('temporal', 'worker', 'deployment', 'set-current-version', '--deployment-name', deployment, '--build-id', buildA, '--yes');
    const waiting = await startRollout('upgrade-waiting');
    expect(await versionOf(waiting)).toEqual({ buildId: buildA, pinned: true });

    // The upgrade: B beside A, then B current.
    workers.b = await startWorkers(buildB);
    await run('temporal', 'worker', 'deployment', 'set-current-version', '--deployment-name', deployment, '--build-id', buildB, '--yes');
    const described = JSON.parse(await run('temporal', 'worker', 'deployment', 'describe', '--name', deployment, '--output', 'json'));
    expect(described.routingConfig.currentVersionBuildID).toBe(buildB);

    const fresh = await startRollout('upgrade-fresh');
    expect(await versionOf(fresh)).toEqual({ buildId: buildB, pinned: true });

    // The waiting rollout, approved after the upgrade, finishes on the build it started on.
    await approve(waiting);
    const result = await waiting.result();
    expect(result.batches.map((batch) => batch.count)).toEqual([1, 1]);
    expect(new Set(await buildsInHistory(waiting))).toEqual(new Set([buildA]));

    // A has nothing left to run: drained, then stopped.
    await until(async () => (await drainage(buildA)) === 'drained', `build ${buildA} drained`, 60_000);
    await workers.a.kill();
    delete workers.a;

    await approve(fresh);
    expect((await fresh.result()).batches.map((batch) => batch.count)).toEqual([1, 1]);
    expect(new Set(await buildsInHistory(fresh))).toEqual(new Set([buildB]));
  });
});

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
