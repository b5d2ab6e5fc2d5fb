// The CSM simulator's switches against whole lifecycles (DESIGN §5): IMS, CFS and BSS answering 5xx
// at random, slowly, and with every bearer token revoked as each phase starts (401 → refresh once):
// the lifecycle completes, the failed tries in its history; a CFS session that hangs: the lifecycle
// fails with CustomizationTimedOut at the customization deadline, not later.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { ChildWorkflowFailure, WorkflowFailedError, type Client } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CsmClient } from '../../activities/csm/client';
import { devStack } from '../../dev/config';
import { makeLayerRepo } from '../../dev/gitLayer';
import { makeSampleImage, type SampleImage } from '../../dev/sampleImage';
import { MediaType, type Manifest } from '../../lib/manifest';
import { imageLifecycle } from '../../workflows/imageLifecycle';
import { attemptRowsOf } from '../helpers/history';
import { objectStore } from '../helpers/images';
import { expireSimTokens, noSimFaults, setSimFaults } from '../helpers/simFaults';
import { connectClient, uniqueId } from '../helpers/temporal';

const bssPath = '/apis/bss/boot/v1/bootparameters';
const csm = new CsmClient(devStack.csm);

let client: Client;
let sample: SampleImage;
let layer: { name: string; cloneUrl: string; commit: string; playbook: string };
beforeAll(async () => {
  client = await connectClient();
  sample = await makeSampleImage(fs.mkdtempSync(path.join(os.tmpdir(), 'sim-switches-')), { payloadMiB: 1, label: uniqueId('sim-switches') });
  layer = { name: 'motd', ...(await makeLayerRepo('motd', [{ name: 'motd', copy: { dest: '/etc/motd', content: 'through faults\n' } }])) };
});
afterEach(() => setSimFaults(noSimFaults));
afterAll(() => client.connection.close());

async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600 && !(await condition()); i++) await new Promise((resolve) => setTimeout(resolve, 200));
}

const start = (workflowId: string, spec: object) => client.workflow.start(imageLifecycle, { taskQueue: devStack.temporal.taskQueue, workflowId, args: [{ name: uniqueId('sim-switches'), import: { rootfs: { file: sample.rootfs }, kernel: { file: sample.kernel }, initrd: { file: sample.initrd } }, ...spec }] });

describe('lifecycles under the simulator\'s switches', () => {
  it('completes with IMS, CFS and BSS answering 5xx at random and slowly, their tokens revoked as each phase starts', async () => {
    const node = `x${randomInt(1000, 9999)}c0s2b0n0`;
    await csm.request('POST', bssPath, { hosts: [node], kernel: 's3://boot-images/old/kernel', initrd: 's3://boot-images/old/initrd', params: 'console=ttyS0,115200 metal.server=s3://boot-images/old/rootfs quiet' });
    await setSimFaults({ ...noSimFaults, errorRate: 0.2, errorStatus: 503, latencyMs: 150 });
    const workflowId = uniqueId('sim-switches');
    const handle = await start(workflowId, {
      customize: { configuration: uniqueId('switches'), layers: [layer], pollIntervalSeconds: 1 },
      bootParameters: { nodes: node, canarySize: 1 },
      retry: { budgetMinutes: 2, maxIntervalSeconds: 2 },
    });
    // Tokens are revoked as each phase starts, so the phase's first calls answer 401 and the client refreshes.
    // As the rollout starts, its next two calls fail for certain besides: the random ones may all land on
    // polls, which absorb a failed try without failing an attempt.
    let expired = 0;
    const expiring = (async () => {
      for (const phase of ['customize', 'boot-parameters']) {
        await until(() => client.workflow.getHandle(`${workflowId}.${phase}`).describe().then(() => true, () => false));
        expired += await expireSimTokens();
      }
      await setSimFaults({ failNext: 2 });
    })();
    const summary = await handle.result();
    await expiring;
    // The faults go off before the test's own reads, which would meet them too.
    const { injected } = await setSimFaults(noSimFaults);
    const entry = (await csm.request<{ kernel: string }[]>('GET', `${bssPath}?name=${node}`))[0];
    // The node boots the customized image's kernel.
    const manifest = JSON.parse(await objectStore.getText(summary.manifest.path)) as Manifest;
    expect(entry.kernel).toBe(manifest.artifacts.find((a) => a.type === MediaType.kernel)!.link.path);
    expect(summary.phases.customize!.resultImageId).toBe(summary.imageId);
    expect(expired).toBeGreaterThan(0);
    expect(injected).toBeGreaterThan(0);
    const phases = ['import', 'customize', 'boot-parameters'].map((phase) => `${workflowId}.${phase}`);
    const failed = (await Promise.all(phases.map((id) => attemptRowsOf(client, id)))).flat().filter((row) => row.outcome !== 'completed');
    expect(failed.length).toBeGreaterThan(0);
  });

  it('fails with CustomizationTimedOut at the deadline when the CFS session hangs', async () => {
    await setSimFaults({ ...noSimFaults, hangSessions: true });
    const workflowId = uniqueId('sim-hang');
    const handle = await start(workflowId, { customize: { configuration: uniqueId('hang'), layers: [layer], pollIntervalSeconds: 1, deadlineMinutes: 0.1 } });
    const failure = (await handle.result().catch((error: WorkflowFailedError) => error)) as WorkflowFailedError;
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const phase = failure.cause as ChildWorkflowFailure;
    expect(phase.execution?.workflowId).toBe(`${workflowId}.customize`);
    expect(phase.cause).toMatchObject({ type: 'CustomizationTimedOut', message: expect.stringMatching(/still running at the deadline/) });
  });
});
