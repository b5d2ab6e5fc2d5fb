// The whole lifecycle through the dev stack: import → encrypt → export on both tgtd servers → BSS
// rollout with a canary and an operator's approval sent to the lifecycle; and a cancellation
// during the approval wait, which must leave BSS exactly as it was.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { execa } from 'execa';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsmClient } from '../activities/csm/client';
import { devStack, stackEnvironment } from '../dev/config';
import { makeSampleImage, type SampleImage } from '../dev/sampleImage';
import { lunIdentity } from '../lib/lunIdentity';
import { expandNodeset } from '../lib/nodeset';
import type { WorkflowStatus } from '../workflows/support/status';
import { imageLifecycle } from '../workflows/imageLifecycle';
import { connectClient, uniqueId } from './helpers/temporal';
import { removeDevStackExports } from './helpers/exports';
import { defaultTargetPrefix } from '../lib/exportLayout';
import { iqnLabelOf } from '../lib/iscsiNames';

const bssPath = '/apis/bss/boot/v1/bootparameters';
const csm = new CsmClient(devStack.csm);
const oldParams = (cabinet: number) =>
  `console=ttyS0,115200 root=sbps-s3:s3://boot-images/old-${cabinet}/rootfs:0123456789abcdef0123456789abcdef-3:dvs:api-gw-service-nmn.local:300:nmn0 nmd_data=url=s3://boot-images/old-${cabinet}/rootfs quiet`;

/** Nodes of a cabinet number no other run uses, each with an entry in the simulated BSS. */
async function seedNodes(): Promise<{ nodeset: string; nodes: string[]; entries: () => Promise<Record<string, unknown>> }> {
  const cabinet = randomInt(1000, 9999);
  const nodeset = `x${cabinet}c0s1b0n[0-1]`;
  const nodes = expandNodeset(nodeset);
  await csm.request('POST', bssPath, { hosts: nodes, kernel: `s3://boot-images/old-${cabinet}/kernel`, initrd: `s3://boot-images/old-${cabinet}/initrd`, params: oldParams(cabinet) });
  const entries = async () => {
    const listed = await csm.request<{ hosts: string[] }[]>('GET', `${bssPath}?name=${nodes.join(',')}`);
    return Object.fromEntries(nodes.map((node) => [node, listed.find((entry) => entry.hosts.includes(node))]));
  };
  return { nodeset, nodes, entries };
}

/** Waits until a workflow's status reaches `step`; fails as soon as `parent` (whose phase it is) ends first. */
async function waitForStep(client: Client, workflowId: string, step: string, parent?: WorkflowHandle): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (parent && (await parent.describe()).status.name !== 'RUNNING') throw new Error(`${parent.workflowId} ended before ${workflowId} reached "${step}": ${await parent.result().then(() => "completed", (e: Error) => (e.cause as Error | undefined)?.message ?? e.message)}`);
    const handle = client.workflow.getHandle(workflowId);
    const status = await handle.query<WorkflowStatus>('status').catch(() => undefined);
    if (status?.step === step) return;
    const described = await handle.describe().catch(() => undefined);
    if (described && described.status.name !== 'RUNNING') throw new Error(`${workflowId} ended ${described.status.name} before step "${step}"`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${workflowId} never reached step "${step}"`);
}

describe('imageLifecycle (dev stack)', () => {
  let client: Client;
  let sample: SampleImage;
  const exported: { linkPath: string; linkEtag: string; targetIqn?: string }[] = [];

  beforeAll(async () => {
    client = await connectClient();
    sample = await makeSampleImage(fs.mkdtempSync(path.join(os.tmpdir(), 'lifecycle-')), { payloadMiB: 2, label: uniqueId('lifecycle') });
  });
  afterAll(async () => {
    await removeDevStackExports(exported);
    await client.connection.close();
  });

  const importFiles = () => ({ rootfs: { file: sample.rootfs }, kernel: { file: sample.kernel }, initrd: { file: sample.initrd }, partSizeMiB: 5 });
  const start = (spec: Record<string, unknown>, workflowId = uniqueId('lifecycle')) =>
    client.workflow.start(imageLifecycle, { taskQueue: devStack.temporal.taskQueue, workflowId, args: [spec] });

  it('imports, encrypts, exports on both servers, validates from two nodes and points the nodes at the LUKS LUN after an approval sent to the lifecycle, the canary validated against the LUKS container', async () => {
    const { nodeset, nodes, entries } = await seedNodes();
    const initiator = { driver: 'libiscsi', iqnPattern: 'iqn.2026-11.test.lifecycle:{node}' };
    const handle = await start({
      name: uniqueId('compute'),
      import: importFiles(),
      encrypt: { sampleSectors: 16 },
      export: { servers: devStack.iscsiServers.map((s) => ({ name: s.name })), initiators: { nodes: `nid[001-002],${nodeset}`, iqnPattern: initiator.iqnPattern } },
      validate: { nodes: 'nid[001-002]', initiator },
      // The canary is checked by the real validateInitiators, which must get the LUKS container the LUN serves.
      bootParameters: { nodes: nodeset, canarySize: 1, batchSize: 1, approval: { required: true }, validate: { options: { initiator } } },
    });
    await waitForStep(client, `${handle.workflowId}.boot-parameters`, 'awaiting approval', handle);
    const canaryOnly = await entries();
    expect(JSON.stringify(canaryOnly[nodes[1]])).toContain('old-');

    const approved = await execa('tsx', ['cli/imagectl.ts', 'approve', handle.workflowId, '--reason', 'canary looks good'], { env: { ...stackEnvironment(), USER: 'test-operator' }, reject: false });
    expect(approved.exitCode, approved.stderr).toBe(0);
    const summary = await handle.result();

    const { encrypt, export: exportPhase, bootParameters, import: imported } = summary.phases;
    expect(summary.phases.validate?.report).toMatch(/^s3:\/\/ims\/validation-reports\//);
    expect(encrypt!.artifact.type).toBe('application/vnd.cray.image.rootfs.luks');
    exported.push({ linkPath: encrypt!.artifact.link.path, linkEtag: encrypt!.artifact.link.etag!, targetIqn: exportPhase!.servers[0].iqn });
    expect(exportPhase!.artifact.path).toBe(encrypt!.artifact.link.path);
    expect(exportPhase!.layout).toBe('per-image');
    const imageTarget = `${defaultTargetPrefix}${iqnLabelOf(summary.name)}`;
    expect(exportPhase!.servers.map((s) => [s.iqn, s.lun])).toEqual([[imageTarget, 1], [imageTarget, 1]]);
    const wwid = lunIdentity({ linkPath: encrypt!.artifact.link.path, linkEtag: encrypt!.artifact.link.etag! }).wwid;
    expect(exportPhase!.servers.map((s) => s.wwid)).toEqual([wwid, wwid]);
    expect(bootParameters!.approval).toMatchObject({ verdict: 'approved', who: 'test-operator' });
    expect(summary.phases.validate).toMatchObject({ nodes: 2, passed: 2, failed: 0 });
    expect(bootParameters!.validation).toMatchObject({ nodes: 1, passed: 1, failed: 0 });

    const rootfs = imported!.artifacts.find((a) => a.type === 'application/vnd.cray.image.rootfs.squashfs')!;
    const kernel = imported!.artifacts.find((a) => a.type === 'application/vnd.cray.image.kernel')!;
    const targets = devStack.iscsiServers.map((s) => `${imageTarget}@${s.address}:${s.port}`).join(',');
    for (const node of nodes) {
      const entry = (await entries())[node] as { kernel: string; params: string };
      expect(entry.kernel).toBe(kernel.link.path);
      expect(entry.params).toContain(`root=sbps-s3:${rootfs.link.path}:${rootfs.link.etag}:dvs:api-gw-service-nmn.local:300:nmn0`);
      expect(entry.params).toContain(`bootimg.lun.wwid=${wwid}`);
      expect(entry.params).toContain(`bootimg.luks.key=${encrypt!.artifact.luks.keyId}`);
      expect(entry.params).toContain(`bootimg.iscsi.targets=${targets}`);
      expect(entry.params).toMatch(/^console=ttyS0,115200 /);
    }
  });

  it('exports the unencrypted squashfs and validates the canary against it, through the real validateInitiators', async () => {
    const { nodeset, nodes, entries } = await seedNodes();
    const initiator = { driver: 'libiscsi', iqnPattern: 'iqn.2026-11.test.lifecycle-plain:{node}' };
    const summary = await (
      await start({
        name: uniqueId('compute'),
        import: importFiles(),
        export: { servers: devStack.iscsiServers.map((s) => ({ name: s.name })), initiators: { nodes: nodeset, iqnPattern: initiator.iqnPattern } },
        bootParameters: { nodes: nodeset, canarySize: 1, batchSize: 1, validate: { options: { initiator } } },
      })
    ).result();
    const { export: exportPhase, bootParameters, import: imported } = summary.phases;
    const rootfs = imported!.artifacts.find((a) => a.type === 'application/vnd.cray.image.rootfs.squashfs')!;
    exported.push({ linkPath: rootfs.link.path, linkEtag: rootfs.link.etag!, targetIqn: exportPhase!.servers[0].iqn });
    expect(exportPhase!.artifact.path).toBe(rootfs.link.path);
    expect(bootParameters!.validation).toMatchObject({ nodes: 1, passed: 1, failed: 0 });
    const wwid = lunIdentity({ linkPath: rootfs.link.path, linkEtag: rootfs.link.etag! }).wwid;
    for (const node of nodes) {
      const entry = (await entries())[node] as { params: string };
      expect(entry.params).toContain(`bootimg.lun.wwid=${wwid}`);
      expect(entry.params).not.toContain('bootimg.luks.key=');
    }
  });

  it('rolls BSS back to exactly what it was when cancelled while waiting for approval', async () => {
    const { nodeset, entries } = await seedNodes();
    const before = await entries();
    const name = uniqueId('compute');
    const handle: WorkflowHandle<typeof imageLifecycle> = await start({
      name,
      import: importFiles(),
      bootParameters: { nodes: nodeset, canarySize: 1, approval: { required: true } },
    });
    await waitForStep(client, `${handle.workflowId}.boot-parameters`, 'awaiting approval', handle);
    expect(await entries()).not.toEqual(before);
    const shown = await execa('tsx', ['cli/imagectl.ts', 'status', handle.workflowId], { env: stackEnvironment(), reject: false });
    expect(shown.stdout).toContain(`${handle.workflowId}.boot-parameters: RUNNING — boot-params: awaiting approval`);
    expect(shown.stdout).toContain(`awaiting approval: imagectl approve ${handle.workflowId} --reason`);

    // imagectl list: by image name, the lifecycle (running, awaiting) and its import; by image id and phase, its rollout.
    const listed = async (...args: string[]) => {
      const run = await execa('tsx', ['cli/imagectl.ts', 'list', '--json', ...args], { env: stackEnvironment(), reject: false });
      expect(run.exitCode, run.stderr).toBe(0);
      return JSON.parse(run.stdout).workflows as { workflowId: string; imageId?: string; awaitingApproval: boolean }[];
    };
    const byName = await listed('--image', name);
    expect(byName.map((r) => r.workflowId).sort()).toEqual([handle.workflowId, `${handle.workflowId}.import`]);
    const lifecycleRow = byName.find((r) => r.workflowId === handle.workflowId)!;
    expect(lifecycleRow).toMatchObject({ workflowId: handle.workflowId, type: 'imageLifecycle', imageName: name, imageId: expect.any(String), phase: 'boot-parameters', status: 'RUNNING', awaitingApproval: true });
    const imageId = lifecycleRow.imageId!;
    expect((await listed('--image', imageId, '--phase', 'boot-params')).map((r) => [r.workflowId, r.awaitingApproval])).toEqual([[`${handle.workflowId}.boot-parameters`, true]]);
    expect((await listed('--image', imageId, '--phase', 'import')).map((r) => r.workflowId)).toEqual([`${handle.workflowId}.import`]);
    expect(await listed('--image', name, '--status', 'failed')).toEqual([]);
    const text = await execa('tsx', ['cli/imagectl.ts', 'list', '--image', imageId], { env: stackEnvironment(), reject: false });
    expect(text.stdout).toMatch(new RegExp(`${handle.workflowId}\\s+imageLifecycle\\s+${name}\\s+${imageId}\\s+boot-parameters\\s+RUNNING\\s+\\S+ \\S+\\s+awaiting`));
    expect((await execa('tsx', ['cli/imagectl.ts', 'list', '--status', 'sleeping'], { env: stackEnvironment(), reject: false })).exitCode).toBe(2);

    await handle.cancel();
    const failure = await handle.result().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    expect(await entries()).toEqual(before);
    await expect.poll(async () => (await listed('--image', name, '--status', 'cancelled')).map((r) => r.workflowId), { timeout: 10_000 }).toEqual([handle.workflowId]);
    expect((await listed('--image', name, '--status', 'completed')).map((r) => r.workflowId)).toEqual([`${handle.workflowId}.import`]);
  });

  it('refuses a spec with problems in several phases, naming each, and starts nothing', async () => {
    const handle = await start({ name: 'x', imageId: 'abc', encrypt: { luksVersion: 1, sectorSize: 4096 }, bootParameters: { nodes: 'nid001' } });
    const failure = (await handle.result().catch((error: WorkflowFailedError) => error)) as WorkflowFailedError;
    expect(failure.cause).toMatchObject({ type: 'InvalidInput' });
    expect(failure.cause!.message).toMatch(/encrypt\.sectorSize: LUKS1 supports only 512-byte sectors/);
    expect(failure.cause!.message).toMatch(/bootParameters\.nodes: not node xnames/);
    const history = await handle.fetchHistory();
    expect(history.events!.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes || e.activityTaskScheduledEventAttributes)).toBe(false);
  });
});
