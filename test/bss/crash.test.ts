// A worker killed (SIGKILL) in the middle of a boot-parameter batch: the rollout resumes on another
// worker, the batch is applied again (PATCHes are idempotent) and every node ends as planned.
import { randomInt } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { CsmClient } from '../../activities/csm/client';
import { devStack } from '../../dev/config';
import { expandNodeset } from '../../lib/nodeset';
import { updateBootParameters } from '../../workflows/updateBootParameters';
import { attemptRowsOf } from '../helpers/history';
import { seedImage } from '../helpers/images';
import { setSimFaults } from '../helpers/simFaults';
import { connectClient, uniqueId } from '../helpers/temporal';
import { startWorkerProcess } from '../helpers/workerProcess';
import { makeSampleImage } from '../../dev/sampleImage';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const csm = new CsmClient(devStack.csm);
const bssPath = '/apis/bss/boot/v1/bootparameters';

describe('updateBootParameters across a worker crash', () => {
  afterEach(() => setSimFaults({ latencyMs: 0, failNext: 0, errorRate: 0 }));

  it('completes after its worker dies mid-batch, every node rewritten exactly once in effect', { timeout: 240_000 }, async () => {
    const sample = await makeSampleImage(fs.mkdtempSync(path.join(os.tmpdir(), 'bss-crash-')), { payloadMiB: 1, label: uniqueId('bss-crash') });
    const image = await seedImage(sample);
    const nodes = expandNodeset(`x${randomInt(1000, 9999)}c0s[0-7]b0n0`);
    // Each node its own console: no two entries change the same way, so a batch is one PATCH per node.
    for (const [index, node] of nodes.entries()) {
      await csm.request('POST', bssPath, { hosts: [node], kernel: 's3://boot-images/old/kernel', initrd: 's3://boot-images/old/initrd', params: `console=ttyS${index} root=sbps-s3:s3://boot-images/old/rootfs:abc:dvs:x:300:nmn0` });
    }
    const client = await connectClient();
    const taskQueue = uniqueId('bss-crash');
    const workflowId = uniqueId('rollout-crash');
    let worker = await startWorkerProcess(taskQueue);
    try {
      await setSimFaults({ latencyMs: 400 });
      const handle = await client.workflow.start(updateBootParameters, { taskQueue, workflowId, args: [{ imageId: image.imageId, nodes, canarySize: 1, batchSize: 7 }] });
      for (;;) {
        const pending = (await handle.describe()).raw.pendingActivities ?? [];
        const status = await handle.query<{ step: string }>('status').catch(() => undefined);
        if (status?.step !== 'canary' && pending.some((p) => p.activityType?.name === 'applyBootParameters')) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await new Promise((resolve) => setTimeout(resolve, 1000)); // a few of the batch's PATCHes have landed
      await worker.kill('SIGKILL');
      await setSimFaults({ latencyMs: 0 });
      worker = await startWorkerProcess(taskQueue);
      const result = await handle.result();

      expect(result.batches.map((b) => b.count)).toEqual([1, 7]);
      const applies = (await attemptRowsOf(client, workflowId)).filter((row) => row.type === 'applyBootParameters');
      expect(applies.map((row) => row.outcome)).toEqual(['completed', 'timed-out', 'completed']);
      const rootfs = image.manifest.artifacts[0].link;
      const listed = await csm.request<{ hosts: string[]; params: string }[]>('GET', `${bssPath}?name=${nodes.join(',')}`);
      for (const [index, node] of nodes.entries()) {
        const entry = listed.find((e) => e.hosts.includes(node))!;
        expect(entry.params).toBe(`console=ttyS${index} root=sbps-s3:${rootfs.path}:${rootfs.etag}:dvs:x:300:nmn0`);
      }
    } finally {
      await worker.kill();
      await client.connection.close();
    }
  });
});
