// The dev stack's cluster profile (DEV_STACK_PROFILE=cluster): the multi-service Temporal server on
// PostgreSQL, two orchestrator workers; with DEV_STACK_CLUSTER_PROCESSES=separate, a lifecycle that
// survives its history service, then its frontend, being killed and restarted. Skipped on the dev profile.
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAddress } from '../dev/cluster';
import { devStack } from '../dev/config';
import { readRecord } from '../dev/processes';
import { makeSampleImage } from '../dev/sampleImage';
import { imageLifecycle } from '../workflows/imageLifecycle';
import { removeDevStackExports } from './helpers/exports';
import { lifecycleViolations } from './helpers/invariants';
import { restoreStack } from './helpers/stack';
import { connectClient, uniqueId } from './helpers/temporal';

const cluster = process.env.DEV_STACK_PROFILE === 'cluster';
const separate = process.env.DEV_STACK_CLUSTER_PROCESSES === 'separate';
const psql = (database: string, sql: string) =>
  execa('psql', ['-h', postgresAddress.host, '-p', String(postgresAddress.port), '-U', 'temporal', '-d', database, '-tA', '-c', sql]);

describe.runIf(cluster)('cluster profile', () => {
  let client: Client;
  beforeAll(async () => {
    client = await connectClient();
  });
  afterAll(async () => client?.connection.close());

  it('is the multi-service server, with its visibility in PostgreSQL and our search attributes', async () => {
    const info = await client.connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toBe('1.31.2');
    const workflowId = uniqueId('visibility');
    const imageId = uniqueId('image');
    // No worker polls this queue: the run only has to exist, with its search attributes.
    const handle = await client.workflow.start('checkStack', { taskQueue: uniqueId('nobody'), workflowId, args: [{}], searchAttributes: { ImageId: [imageId] } });
    try {
      let found: string[] = [];
      for (let i = 0; i < 40 && found.length === 0; i++) {
        found = [];
        for await (const run of client.workflow.list({ query: `ImageId = "${imageId}"` })) found.push(run.workflowId);
        if (!found.length) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(found).toEqual([workflowId]);
      expect((await psql('temporal_visibility', `select count(*) from executions_visibility where workflow_id = '${workflowId}'`)).stdout).toBe('1');
      // The Temporal UI of the profile (ui-server) finds it too, through the same visibility query.
      const ui = new URL(`/api/v1/namespaces/${devStack.temporal.namespace}/workflows`, devStack.temporal.uiUrl);
      ui.searchParams.set('query', `ImageId = "${imageId}"`);
      const listed = (await (await fetch(ui)).json()) as { executions?: { execution: { workflowId: string } }[] };
      expect(listed.executions?.map((e) => e.execution.workflowId)).toEqual([workflowId]);
    } finally {
      await handle.terminate('test done');
    }
  });

  it('has two orchestrator workers polling the workflow queue, one build of the workflow code, current', async () => {
    const response = await client.connection.workflowService.describeTaskQueue({ namespace: devStack.temporal.namespace, taskQueue: { name: devStack.temporal.taskQueue }, taskQueueType: 1 });
    const pollers = ['worker-orchestrator', 'worker-orchestrator-2'].map((name) => (response.pollers ?? []).find((p) => p.identity === readRecord(name)?.identity));
    expect(pollers.every(Boolean), 'both poll').toBe(true);
    // Each bundled the workflow code at start: the same hash, so the same version.
    const builds = new Set(pollers.map((p) => p!.deploymentOptions?.buildId));
    expect(builds.size).toBe(1);
    const { workerDeploymentInfo } = await client.connection.workflowService.describeWorkerDeployment({ namespace: devStack.temporal.namespace, deploymentName: pollers[0]!.deploymentOptions!.deploymentName! });
    expect(workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId).toBe([...builds][0]);
  });

  it.runIf(separate)('finishes a lifecycle whose history service is killed mid-encryption and its frontend mid-export, each restarted, with nothing lost', async () => {
    const sample = await makeSampleImage(fs.mkdtempSync(path.join(os.tmpdir(), 'history-kill-')), { payloadMiB: 2, label: uniqueId('history-kill') });
    const handle = await client.workflow.start(imageLifecycle, {
      taskQueue: devStack.temporal.taskQueue,
      workflowId: uniqueId('lifecycle-history-kill'),
      args: [{ name: uniqueId('compute'), import: { rootfs: { file: sample.rootfs }, kernel: { file: sample.kernel }, initrd: { file: sample.initrd } }, encrypt: { sampleSectors: 16 }, export: { servers: devStack.iscsiServers.map((s) => ({ name: s.name })), initiators: 'generate-node-acls' } }],
    });
    const waitForPhase = async (phase: string) => {
      for (;;) {
        const status = await handle.query<{ phase: string }>('status').catch(() => undefined);
        if (status?.phase === phase) return;
        if ((await handle.describe().catch(() => undefined))?.status.name === 'COMPLETED') throw new Error(`the lifecycle ended before the ${phase} phase`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    const killAndRestart = async (name: string) => {
      const killed = readRecord(name);
      expect(killed, `the stack runs ${name} as a process of its own`).toBeDefined();
      process.kill(killed!.pid, 'SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await restoreStack();
      expect(readRecord(name)!.pid).not.toBe(killed!.pid);
    };
    // Mid-run: the encryption phase has started (import done, export to come).
    await waitForPhase('encrypt');
    await killAndRestart('temporal-history');
    await waitForPhase('export');
    await killAndRestart('temporal-frontend');
    const summary = await handle.result();
    try {
      expect(summary.phases.export!.servers.map((s) => s.server)).toEqual(devStack.iscsiServers.map((s) => s.name));
      const violations = await lifecycleViolations({ summary, servers: devStack.iscsiServers.map((s) => s.name), bss: {}, readBss: async () => ({}) });
      expect(violations).toEqual([]);
    } finally {
      await removeDevStackExports([{ linkPath: summary.phases.encrypt!.artifact.link.path, linkEtag: summary.phases.encrypt!.artifact.link.etag!, targetIqn: summary.phases.export!.servers[0].iqn }]);
    }
  }, 420_000);
});
