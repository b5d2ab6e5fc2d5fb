// The dev stack's cluster profile (DEV_STACK_PROFILE=cluster): the multi-service Temporal server on
// PostgreSQL, two orchestrator workers; with DEV_STACK_CLUSTER_PROCESSES=separate, a lifecycle that
// survives its history service being killed and restarted. Skipped on the dev profile.
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

  it('has two orchestrator workers polling the workflow queue', async () => {
    const response = await client.connection.workflowService.describeTaskQueue({ namespace: devStack.temporal.namespace, taskQueue: { name: devStack.temporal.taskQueue }, taskQueueType: 1 });
    const identities = (response.pollers ?? []).map((p) => p.identity);
    for (const name of ['worker-orchestrator', 'worker-orchestrator-2']) expect(identities, name).toContain(readRecord(name)?.identity);
  });

  it.runIf(separate)('finishes a lifecycle whose history service is killed mid-run and restarted', async () => {
    const sample = await makeSampleImage(fs.mkdtempSync(path.join(os.tmpdir(), 'history-kill-')), { payloadMiB: 2, label: uniqueId('history-kill') });
    const handle = await client.workflow.start(imageLifecycle, {
      taskQueue: devStack.temporal.taskQueue,
      workflowId: uniqueId('lifecycle-history-kill'),
      args: [{ name: uniqueId('compute'), import: { rootfs: { file: sample.rootfs }, kernel: { file: sample.kernel }, initrd: { file: sample.initrd } }, encrypt: { sampleSectors: 16 }, export: { servers: devStack.iscsiServers.map((s) => ({ name: s.name })), initiators: 'generate-node-acls' } }],
    });
    // Mid-run: the encryption phase has started (import done, export to come).
    for (;;) {
      const status = await handle.query<{ phase: string }>('status').catch(() => undefined);
      if (status?.phase === 'encrypt') break;
      if ((await handle.describe()).status.name !== 'RUNNING') throw new Error('the lifecycle ended before the encrypt phase');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const history = readRecord('temporal-history');
    expect(history, 'the stack runs history as a process of its own').toBeDefined();
    process.kill(history!.pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const restarted = await execa('tsx', ['dev/stack.ts', 'up'], { reject: false, all: true });
    expect(restarted.exitCode, restarted.all).toBe(0);
    expect(readRecord('temporal-history')!.pid).not.toBe(history!.pid);
    const summary = await handle.result();
    try {
      expect(summary.phases.export!.servers.map((s) => s.server)).toEqual(devStack.iscsiServers.map((s) => s.name));
    } finally {
      await removeDevStackExports([{ linkPath: summary.phases.encrypt!.artifact.link.path, linkEtag: summary.phases.encrypt!.artifact.link.etag!, targetIqn: summary.phases.export!.servers[0].iqn }]);
    }
  }, 300_000);
});
