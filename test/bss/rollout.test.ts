// updateBootParameters and rollbackBootParameters against the simulated BSS and the real S3, on a test
// worker with the project's workflows and the orchestrator's activities (BSS: the in-process simulator).
// The canary validations are the real validateInitiators against a real export on the stack's tgtd servers.
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expandNodeset } from '../../lib/nodeset';
import { statusQuery } from '../../workflows/support/status';
import type { SnapshotSummary } from '../../activities/bss/activities';
import { createOrchestratorActivities } from '../../activities/orchestrator';
import { rollbackBootParameters } from '../../workflows/rollbackBootParameters';
import { approveSignal, approveUpdate, rejectUpdate, updateBootParameters } from '../../workflows/updateBootParameters';
import { exportImage } from '../../workflows/exportImage';
import { workflowsPath } from '../../workers/orchestrator';
import { execa } from 'execa';
import { devStack, stackEnvironment } from '../../dev/config';
import { makeSampleImage } from '../../dev/sampleImage';
import { removeDevStackExports } from '../helpers/exports';
import { seedImage } from '../helpers/images';
import { connectClient, uniqueId } from '../helpers/temporal';
import { startTestWorkers } from '../helpers/testWorker';
import { bssPath, computeParams, ncnParams, oldArtifacts, putTestImage, startBssTestBed, type BssTestBed, type TestImage } from './helpers';

let bed: BssTestBed;
let image: TestImage;
let client: Client;
let workers: { stop(): Promise<void> };
const taskQueue = uniqueId('bss');
const orchestrator = createOrchestratorActivities({ ...process.env, ...stackEnvironment() });
/**
 * Holds the real checkInitiators until released: a test that approves during the canary validation
 * needs the validation still running when its approval arrives, however fast the checks are.
 */
let checksHeld: Promise<void> | undefined;
const holdChecks = () => {
  let release!: () => void;
  checksHeld = new Promise((resolve) => (release = resolve));
  return () => {
    checksHeld = undefined;
    release();
  };
};

beforeAll(async () => {
  bed = await startBssTestBed();
  image = await putTestImage();
  client = await connectClient();
  workers = await startTestWorkers([
    {
      taskQueue,
      workflowsPath,
      activities: {
        ...orchestrator,
        ...bed.activities,
        async checkInitiators(input: Parameters<typeof orchestrator.checkInitiators>[0]) {
          await checksHeld;
          return orchestrator.checkInitiators(input);
        },
      },
    },
  ]);
});
afterEach(() => {
  bed.h.expectNoViolations();
});
afterAll(async () => {
  await workers?.stop();
  await client?.connection.close();
  bed.h.close();
});

const run = <T>(body: (context: { client: Client; taskQueue: string }) => Promise<T>) => body({ client, taskQueue });

async function untilStep(handle: WorkflowHandle, step: string) {
  for (let i = 0; i < 300; i++) {
    if ((await handle.query(statusQuery)).step === step) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`workflow never reached step ${step}`);
}

async function startAwaitingApproval(client: Client, taskQueue: string, prefix: string, nodes: string[]) {
  const handle = await client.workflow.start(updateBootParameters, { taskQueue, workflowId: uniqueId(prefix), args: [spec(nodes, { approval: { required: true } })] });
  await untilStep(handle, 'awaiting approval');
  return handle;
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  return (error as WorkflowFailedError).cause as ApplicationFailure;
}

/** Compute nodes sharing one params string, with cloud-init data that must survive. */
async function seedCompute(nodeset: string) {
  const hosts = expandNodeset(nodeset);
  await bed.seed([{ hosts, ...oldArtifacts, params: computeParams(), 'cloud-init': { 'user-data': { hostname: 'compute' }, 'meta-data': { region: 'ocean' } } }]);
  return hosts;
}

const spec = (nodes: string | string[], extra: object = {}) => ({ nodes, manifestPath: image.manifestPath, ...extra });
const newRoot = () => `root=sbps-s3:${image.rootfs}:${image.rootfsEtag}:sbps:v1:iqn.2023-06.csm.iscsi:_sbps-hsn._tcp.example.com:300`;

describe('updateBootParameters', () => {
  it('rolls 1,000 nodes out: canary, approval by signal, batches grouped into one PATCH per distinct entry', async () => {
    const all = expandNodeset('x[1000-1003]c[0-7]s[0-7]b0n[0-3]').slice(0, 1000);
    const ncns = all.slice(0, 4);
    const cps = all.slice(500, 600);
    const sbps = all.filter((node) => !ncns.includes(node) && !cps.includes(node));
    await bed.seed([
      ...ncns.map((host, i) => ({ hosts: [host], ...oldArtifacts, params: ncnParams(`b8:59:9f:fe:49:d${i}`) })),
      { hosts: cps, ...oldArtifacts, params: computeParams('craycps-s3') },
      { hosts: sbps, ...oldArtifacts, params: computeParams(), 'cloud-init': { 'user-data': { hostname: 'compute' } } },
    ]);
    const before = await bed.entries(all);
    const iscsi = { targets: [{ iqn: 'iqn.2023-06.csm.iscsi:iscsi1', address: '10.1.0.5' }], lunWwid: '36001405a1b2c3d4e5f60718293a4b5c6', luksKeyRef: 'vault:ocean-2026' };
    bed.requests.length = 0;

    const result = await run(async ({ client, taskQueue }) => {
      const handle = await client.workflow.start(updateBootParameters, {
        taskQueue,
        workflowId: uniqueId('bss-rollout'),
        args: [spec(all, { iscsi, canarySize: 10, batchSize: 200, concurrency: 3, approval: { required: true } })],
      });
      await untilStep(handle, 'awaiting approval');
      const waiting = await handle.query(statusQuery);
      expect(waiting.details.progress).toEqual({ nodesDone: 10, nodesTotal: 1000 });
      await handle.signal(approveSignal, { who: 'alice', reason: 'canary booted, CHG-1234' });
      return handle.result();
    });

    expect(result.approval).toMatchObject({ verdict: 'approved', via: 'signal', who: 'alice', reason: 'canary booted, CHG-1234' });
    expect(result.validation).toBeUndefined();
    expect(result.nodes.count).toBe(1000);
    const batches = [...result.batches].sort((a, b) => a.batch - b.batch);
    expect(batches.map((b) => [b.batch, b.count])).toEqual([[0, 10], [1, 200], [2, 200], [3, 200], [4, 200], [5, 190]]);
    expect(result.plan.changing).toBe(1000);

    const after = await bed.entries(all);
    for (const node of sbps) {
      const entry = JSON.parse(after[node]!);
      expect(entry.params).toContain(newRoot());
      expect(entry.params).toContain('bootimg.luks.key=vault:ocean-2026');
      expect(entry).toMatchObject({ kernel: image.kernel, initrd: image.initrd, 'cloud-init': { 'user-data': { hostname: 'compute' } } });
    }
    expect(JSON.parse(after[cps[0]]!).params).toContain(`root=craycps-s3:${image.rootfs}:${image.rootfsEtag}:sbps:v1`);
    expect(JSON.parse(after[ncns[2]]!).params).toContain(`metal.server=${image.rootfs} metal.no-wipe=1 root=live:LABEL=SQFSRAID`);
    expect(JSON.parse(after[ncns[2]]!).params).toContain('ifname=mgmt0:b8:59:9f:fe:49:d2');

    // API calls: one GET of every entry for the snapshot, per batch one GET of its entries (its names
    // fit in one URL), and one PATCH per distinct new entry in the batch — never a PUT.
    const batchOf = (node: string) => result.batches.find((b) => expandNodeset(b.nodes).includes(node))!.batch;
    const distinctPerBatch = new Set(all.map((node) => `${batchOf(node)}|${ncns.includes(node) ? node : cps.includes(node) ? 'cps' : 'sbps'}`)).size;
    expect(bed.countRequests('PATCH')).toBe(distinctPerBatch);
    expect(bed.countRequests('PUT')).toBe(0);
    expect(bed.countRequests('POST')).toBe(0);
    expect(bed.countRequests('GET')).toBe(1 + result.batches.length);
    expect(result.batches.reduce((sum, b) => sum + b.writes, 0)).toBe(distinctPerBatch);
    expect(Object.values(before).every(Boolean)).toBe(true);
  });

  it('fails an approval that never comes and leaves every entry byte-identical to the snapshot', async () => {
    const nodes = await seedCompute('x1100c0s[0-9]b0n[0-3]');
    const before = await bed.entries(nodes);
    const failure = await run(({ client, taskQueue }) =>
      failureOf(client.workflow.execute(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-timeout'), args: [spec(nodes, { canarySize: 5, approval: { required: true, timeoutMinutes: 0.05 } })] })),
    );
    expect(failure.type).toBe('ApprovalTimedOut');
    expect(failure.message).toMatch(/no approval within 0.05 minutes \(rolled back 5 nodes to snapshot s3:\/\/ims\/bss-changes-test\/bss-timeout-.*\/snapshot.json\)/);
    expect(await bed.entries(nodes)).toEqual(before);
  });

  it('a reject update stops the rollout and rolls back; no decision is taken once it is over', async () => {
    const nodes = await seedCompute('x1102c0s[0-3]b0n0');
    const before = await bed.entries(nodes);
    await run(async ({ client, taskQueue }) => {
      const handle = await client.workflow.start(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-reject'), args: [spec(nodes, { approval: { required: true } })] });
      await untilStep(handle, 'awaiting approval');
      const decision = await handle.executeUpdate(rejectUpdate, { args: [{ who: 'bob', reason: 'wrong image' }] });
      expect(decision).toMatchObject({ verdict: 'rejected', via: 'update', who: 'bob' });
      const failure = await failureOf(handle.result());
      expect(failure.type).toBe('RolloutRejected');
      expect(failure.message).toMatch(/^rejected by bob: wrong image/);
      await expect(handle.executeUpdate(rejectUpdate, { args: [{ who: 'bob', reason: 'again' }] })).rejects.toThrow();
    });
    expect(await bed.entries(nodes)).toEqual(before);
  });

  it('an operator edit made after the snapshot is not overwritten: the batch stops naming the node, the canary is rolled back, the edit kept', async () => {
    const nodes = await seedCompute('x1114c0s[0-3]b0n0');
    const before = await bed.entries(nodes);
    await run(async ({ client, taskQueue }) => {
      const handle = await startAwaitingApproval(client, taskQueue, 'bss-edited', nodes);
      const edit = await bed.h.raw('PATCH', bssPath, { hosts: [nodes[2]], params: `${computeParams()} operator.fix=1` });
      expect(edit.status).toBeLessThan(300);
      await handle.executeUpdate(approveUpdate, { args: [{ who: 'frank', reason: 'canary fine' }] });
      const failure = await failureOf(handle.result());
      expect(failure.type).toBe('ChangedSinceSnapshot');
      expect(failure.message).toContain(`1 node(s) changed in BSS since the snapshot of change ${handle.workflowId}, not overwritten: ${nodes[2]}`);
      expect(failure.message).toContain('rolled back 1 nodes');
    });
    const after = await bed.entries(nodes);
    expect(JSON.parse(after[nodes[2]]!).params).toBe(`${computeParams()} operator.fix=1`);
    for (const node of [nodes[0], nodes[1], nodes[3]]) expect(after[node]).toEqual(before[node]);
  });

  it('one rollout at a time per node: an overlapping one is refused naming the holder, nothing changed; the nodes are free again once it ends, or once it is terminated', async () => {
    const nodes = await seedCompute('x1115c0s[0-5]b0n0');
    const before = await bed.entries(nodes);
    await run(async ({ client, taskQueue }) => {
      const first = await client.workflow.start(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-lock-a'), args: [spec(nodes.slice(0, 4), { approval: { required: true } })] });
      await untilStep(first, 'awaiting approval');
      const overlapping = await failureOf(client.workflow.execute(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-lock-b'), args: [spec(nodes.slice(2))] }));
      expect(overlapping.type).toBe('NodesHeld');
      expect(overlapping.message).toBe(`claim nodes: another rollout is changing these nodes: change ${first.workflowId} holds x1115c0s[2-3]b0n0`);
      const now = await bed.entries(nodes);
      for (const node of nodes.slice(4)) expect(now[node]).toEqual(before[node]);
      await first.executeUpdate(approveUpdate, { args: [{ who: 'gail', reason: 'ok' }] });
      await first.result();
      const stale = await client.workflow.start(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-lock-c'), args: [spec(nodes.slice(2), { approval: { required: true } })] });
      await untilStep(stale, 'awaiting approval');
      await stale.terminate('operator gave up');
      const taken = await client.workflow.execute(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-lock-d'), args: [spec(nodes)] });
      expect(taken.batches.reduce((sum, b) => sum + b.count, 0)).toBe(6);
    });
  });

  it('waits for held nodes when asked: takes them once the holder ends, or gives up at the limit naming the holder', async () => {
    const nodes = await seedCompute('x1117c0s[0-3]b0n0');
    const before = await bed.entries(nodes);
    const holder = await client.workflow.start(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-wait-holder'), args: [spec(nodes.slice(0, 2), { canarySize: 2, approval: { required: true } })] });
    await untilStep(holder, 'awaiting approval');
    const tooShort = await failureOf(client.workflow.execute(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-wait-short'), args: [spec(nodes, { waitForHeldNodesMinutes: 0.05 })] }));
    expect(tooShort.type).toBe('NodesHeld');
    expect(tooShort.message).toBe(`claim nodes: another rollout is changing these nodes: change ${holder.workflowId} holds x1117c0s[0-1]b0n0 (waited 0.05 min)`);
    expect((await bed.entries(nodes)).x1117c0s3b0n0).toEqual(before.x1117c0s3b0n0);

    const waiting = await client.workflow.start(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-wait'), args: [spec(nodes, { waitForHeldNodesMinutes: 0.5 })] });
    await expect.poll(async () => (await waiting.query(statusQuery)).step, { timeout: 20_000, interval: 200 }).toBe(`waiting for held nodes: claim nodes: another rollout is changing these nodes: change ${holder.workflowId} holds x1117c0s[0-1]b0n0`);
    await holder.executeUpdate(approveUpdate, { args: [{ who: 'ines', reason: 'ok' }] });
    await holder.result();
    const taken = await waiting.result();
    expect(taken.batches.reduce((sum, b) => sum + b.count, 0)).toBe(4);
  });

  it('a rollback holds the nodes as a rollout does: refused naming the holder while another change holds them, nothing changed; it runs once they are free', async () => {
    const nodes = await seedCompute('x1116c0s[0-3]b0n0');
    const before = await bed.entries(nodes);
    await run(async ({ client, taskQueue }) => {
      // A change with a snapshot of every node (a dry run takes one and holds nothing).
      const earlier = await client.workflow.execute(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-lock-earlier'), args: [spec(nodes, { dryRun: true })] });
      const holder = await client.workflow.start(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-lock-holder'), args: [spec(nodes.slice(1, 3), { canarySize: 2, approval: { required: true } })] });
      await untilStep(holder, 'awaiting approval');
      const during = await bed.entries(nodes);
      const refused = await failureOf(client.workflow.execute(rollbackBootParameters, { taskQueue, workflowId: uniqueId('bss-lock-rollback'), args: [{ changeId: earlier.changeId }] }));
      expect(refused.type).toBe('NodesHeld');
      expect(refused.message).toBe(`claim nodes: another rollout is changing these nodes: change ${holder.workflowId} holds x1116c0s[1-2]b0n0`);
      expect(await bed.entries(nodes)).toEqual(during);
      await holder.executeUpdate(approveUpdate, { args: [{ who: 'hana', reason: 'ok' }] });
      await holder.result();
      const restored = await client.workflow.execute(rollbackBootParameters, { taskQueue, workflowId: uniqueId('bss-lock-rollback'), args: [{ changeId: earlier.changeId }] });
      expect(restored).toMatchObject({ changeId: earlier.changeId, nodes: 4 });
    });
    expect(await bed.entries(nodes)).toEqual(before);
  });

  it('rolls back when cancelled while awaiting approval', async () => {
    const nodes = await seedCompute('x1103c0s[0-3]b0n0');
    const before = await bed.entries(nodes);
    await run(async ({ client, taskQueue }) => {
      const handle = await client.workflow.start(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-cancel'), args: [spec(nodes, { canarySize: 2, approval: { required: true } })] });
      await untilStep(handle, 'awaiting approval');
      expect(JSON.parse((await bed.entries(nodes))[nodes[0]]!).params).toContain(newRoot());
      await handle.cancel();
      await expect(handle.result()).rejects.toThrow();
      expect((await handle.describe()).status.name).toBe('CANCELLED');
    });
    expect(await bed.entries(nodes)).toEqual(before);
  });

  it('creates entries for hosts without one when the policy says create, and refuses them otherwise (nothing changed)', async () => {
    const present = await seedCompute('x1104c0s[0-3]b0n0');
    const absent = 'x1104c0s9b0n0';
    const nodes = [...present, absent];
    const before = await bed.entries(nodes);
    expect(before[absent]).toBeNull();

    const refused = await run(({ client, taskQueue }) => failureOf(client.workflow.execute(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-refuse'), args: [spec(nodes)] })));
    expect(refused.type).toBe('InvalidInput');
    expect(refused.message).toContain(`${absent}: has no BSS entry`);
    expect(await bed.entries(nodes)).toEqual(before);

    bed.requests.length = 0;
    const baseParams = 'console=ttyS0,115200 root=sbps-s3:s3://boot-images/none/rootfs:none:sbps:v1:iqn.2023-06.csm.iscsi:_sbps-hsn._tcp.example.com:300 quiet';
    const created = await run(({ client, taskQueue }) =>
      client.workflow.execute(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-create'), args: [spec([absent, ...present], { missingHosts: 'create', baseParams })] }),
    );
    expect(created.batches[0]).toMatchObject({ nodes: absent, created: absent });
    expect(bed.countRequests('POST')).toBe(1);
    expect(JSON.parse((await bed.entries([absent]))[absent]!)).toEqual({
      hosts: [absent],
      kernel: image.kernel,
      initrd: image.initrd,
      params: `console=ttyS0,115200 ${newRoot()} quiet`,
    });

    // Rolling that change back removes the entry it created.
    const rolledBack = await run(({ client, taskQueue }) =>
      client.workflow.execute(rollbackBootParameters, { taskQueue, workflowId: uniqueId('bss-undo'), args: [{ changeId: created.changeId }] }),
    );
    expect(rolledBack).toMatchObject({ nodes: 5, deleted: absent, restored: 4 });
    expect(await bed.entries(nodes)).toEqual(before);
  });

  it('refuses bad input with non-retryable errors and changes nothing in BSS', async () => {
    const nodes = await seedCompute('x1105c0s[0-3]b0n0');
    const before = await bed.entries(nodes);
    const noEtag = await putTestImage({ withoutRootfsEtag: true });
    await run(async ({ client, taskQueue }) => {
      const start = (args: object) => failureOf(client.workflow.execute(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-bad'), args: [args] }));
      const unknown = await start(spec([...nodes, 'x9999c0s0b0n0', 'x9999c0s1b0n0']));
      expect(unknown).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
      expect(unknown.message).toContain('x9999c0s[0-1]b0n0: has no BSS entry (an unknown xname?');
      const empty = await start(spec([]));
      expect(empty).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
      expect(empty.message).toContain('nodes: the node set is empty');
      const malformed = await start(spec('nid[001-004]'));
      expect(malformed.message).toContain('not node xnames');
      const missingEtag = await start({ nodes, manifestPath: noEtag.manifestPath });
      expect(missingEtag).toMatchObject({ type: 'ManifestEtagFault', nonRetryable: true });
      expect(missingEtag.message).toContain(`the rootfs ${noEtag.rootfs} has no etag`);
    });
    expect(await bed.entries(nodes)).toEqual(before);
  });

  it('dry run: the per-node diff, grouped by identical change, and nothing written to BSS', async () => {
    const nodes = await seedCompute('x1106c0s[0-3]b0n0');
    const before = await bed.entries(nodes);
    const result = await run(({ client, taskQueue }) =>
      client.workflow.execute(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-dry'), args: [spec(nodes, { dryRun: true, iscsi: { luksKeyRef: 'vault:ocean' } })] }),
    );
    expect(result.batches).toEqual([]);
    expect(result.plan.groups).toEqual([
      {
        nodes: 'x1106c0s[0-3]b0n0',
        count: 4,
        create: false,
        diff: {
          kernel: { before: oldArtifacts.kernel, after: image.kernel },
          initrd: { before: oldArtifacts.initrd, after: image.initrd },
          params: {
            before: [computeParams().split(' ').find((t) => t.startsWith('root='))],
            after: [newRoot(), 'bootimg.luks.key=vault:ocean'],
          },
        },
      },
    ]);
    expect(await bed.entries(nodes)).toEqual(before);
  });

  it('survives injected BSS 503s, each failed attempt an event in the history', async () => {
    const nodes = await seedCompute('x1107c0s[0-7]b0n0');
    const result = await run(async ({ client, taskQueue }) => {
      const workflowId = uniqueId('bss-503');
      bed.h.sim.faults.update({ failNext: 3, errorStatus: 503, errorPathPrefix: '/apis/bss' });
      const done = await client.workflow.execute(updateBootParameters, { taskQueue, workflowId, args: [spec(nodes, { canarySize: 2, batchSize: 3 })] });
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const failed = history.events!.filter((e) => e.activityTaskFailedEventAttributes);
      // Only the BSS failures: a loaded S3 may also drop a connection now and then (retried alike).
      const bssFailures = failed.filter((e) => e.activityTaskFailedEventAttributes!.failure!.message!.startsWith('BSS: '));
      expect(bssFailures.map((e) => e.activityTaskFailedEventAttributes!.failure!.applicationFailureInfo!.type)).toEqual(['ServiceUnavailable', 'ServiceUnavailable', 'ServiceUnavailable']);
      return done;
    });
    expect(bed.h.sim.faults.injected).toBeGreaterThanOrEqual(3);
    const after = await bed.entries(nodes);
    for (const node of nodes) expect(JSON.parse(after[node]!).params).toContain(newRoot());
    expect(result.batches.map((b) => b.count)).toEqual([2, 3, 3]);
  });
});

describe('canary validation: the real validateInitiators against a real export', () => {
  const early = 'x1109c0s[0-3]b0n0';
  const byImagectl = 'x1113c0s[0-3]b0n0';
  const failing = expandNodeset('x1101c0s[0-9]b0n[0-3]');
  // Every canary node may log in, but failing[2]: the per-image target's ACL leaves it out.
  const allowed = [...expandNodeset(early), ...expandNodeset(byImagectl), ...failing.slice(0, 4).filter((_, i) => i !== 2)];
  const iqnPattern = `iqn.2026-12.test.bss-canary-${uniqueId('').slice(-6)}:{node}`;
  const exported: { linkPath: string; linkEtag: string; targetIqn?: string }[] = [];
  let canaryImage: { manifestPath: string; iscsi: { targets: { iqn: string; address: string; port: number }[]; lunWwid: string } };
  const validate = { options: { initiator: { driver: 'libiscsi', iqnPattern } } };

  beforeAll(async () => {
    const sample = await makeSampleImage(fs.mkdtempSync(path.join(os.tmpdir(), 'bss-canary-')), { payloadMiB: 1, label: uniqueId('bss-canary') });
    const seeded = await seedImage(sample, { name: uniqueId('bss_canary') });
    const result = await client.workflow.execute(exportImage, {
      taskQueue: devStack.temporal.taskQueue,
      workflowId: uniqueId('bss-canary-export'),
      args: [{ imageId: seeded.imageId, servers: devStack.iscsiServers.map((s) => ({ name: s.name })), initiators: allowed.map((node) => iqnPattern.replace('{node}', node)) }],
    });
    const rootfs = seeded.manifest.artifacts[0].link;
    exported.push({ linkPath: rootfs.path, linkEtag: rootfs.etag!, targetIqn: result.servers[0].iqn });
    const targets = result.servers.flatMap((server) => server.portals.map((portal) => ({ iqn: server.iqn, address: portal.address, port: portal.port })));
    canaryImage = { manifestPath: seeded.manifestPath, iscsi: { targets, lunWwid: result.servers[0].wwid } };
  });
  afterAll(() => removeDevStackExports(exported));

  const canarySpec = (nodes: string | string[], extra: object = {}) => ({ nodes, manifestPath: canaryImage.manifestPath, iscsi: canaryImage.iscsi, validate, ...extra });

  it('rolls back when validation fails on the canary, naming the failing node', async () => {
    const nodes = await seedCompute('x1101c0s[0-9]b0n[0-3]');
    const before = await bed.entries(nodes);
    const failure = await failureOf(client.workflow.execute(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-canary'), args: [canarySpec(nodes, { canarySize: 4 })] }));
    expect(failure.type).toBe('ValidationFailed');
    expect(failure.message).toMatch(new RegExp(`^1 of 4 nodes failed validation: ${failing[2]} on .*: discovery: .* does not list ${canaryImage.iscsi.targets[0].iqn} to ${iqnPattern.replace('{node}', failing[2])}`));
    for (const node of [failing[0], failing[1], failing[3]]) expect(failure.message).not.toContain(`${node}:`);
    expect(await bed.entries(nodes)).toEqual(before);
  });

  it('approval is taken only while awaiting it: an earlier approve update is refused, a signal ignored', async () => {
    const nodes = await seedCompute(early);
    const release = holdChecks();
    try {
      const handle = await client.workflow.start(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-early'), args: [canarySpec(nodes, { approval: { required: true } })] });
      await untilStep(handle, 'validate canary');
      await expect(handle.executeUpdate(approveUpdate, { args: [{ who: 'carol', reason: 'eager' }] })).rejects.toMatchObject({ cause: { message: expect.stringContaining('not awaiting approval') } });
      await handle.signal(approveSignal, { who: 'carol', reason: 'eager' });
      await expect(handle.executeUpdate(approveUpdate, { args: [{ who: '', reason: 'x' }] })).rejects.toMatchObject({ cause: { message: 'say who decides' } });
      release();
      await untilStep(handle, 'awaiting approval');
      expect((await handle.query(statusQuery)).details.ignoredSignals).toEqual(['approve signal ignored: the rollout is not awaiting approval']);
      const decision = await handle.executeUpdate(approveUpdate, { args: [{ who: 'carol', reason: 'canary validated' }] });
      expect(decision).toMatchObject({ verdict: 'approved', via: 'update', who: 'carol' });
      const result = await handle.result();
      expect(result.approval).toEqual(decision);
      expect(result.validation).toMatchObject({ nodes: 1, passed: 1, failed: 0 });
    } finally {
      release();
    }
  });

  it('imagectl approve says whether the rollout took the decision: refused early and once over (exit 1, the reason), taken while awaiting it', async () => {
    const nodes = await seedCompute(byImagectl);
    const imagectl = (args: string[]) =>
      execa('tsx', ['cli/imagectl.ts', ...args, '--json'], { reject: false, env: { TEMPORAL_ADDRESS: devStack.temporal.address, USER: 'erin' } });
    const release = holdChecks();
    try {
      const workflowId = uniqueId('bss-imagectl');
      const handle = await client.workflow.start(updateBootParameters, { taskQueue, workflowId, args: [canarySpec(nodes, { approval: { required: true } })] });
      await untilStep(handle, 'validate canary');
      const earlyTry = await imagectl(['approve', workflowId, '--reason', 'eager']);
      expect(earlyTry.exitCode).toBe(1);
      expect(JSON.parse(earlyTry.stdout).refused).toBe(`${workflowId}: the rollout is not awaiting approval`);
      release();
      await untilStep(handle, 'awaiting approval');
      const taken = await imagectl(['approve', workflowId, '--reason', 'canary booted']);
      expect(taken.exitCode).toBe(0);
      expect(JSON.parse(taken.stdout)).toMatchObject({ workflowId, verdict: 'approved', via: 'update', who: 'erin', reason: 'canary booted' });
      expect((await handle.result()).approval).toMatchObject({ who: 'erin', via: 'update' });
      const late = await imagectl(['approve', workflowId, '--reason', 'again', '--reject']);
      expect(late.exitCode).toBe(1);
      expect(JSON.parse(late.stdout).refused).toBe(`${workflowId} is completed`);
    } finally {
      release();
    }
  });
});

describe('BSS outages mid-rollout', () => {
  const outage = (on: boolean) => bed.h.sim.faults.update({ errorRate: on ? 1 : 0, errorStatus: 503, errorPathPrefix: '/apis/bss' });
  afterEach(() => outage(false));
  const failedTypes = async (client: Client, workflowId: string) =>
    (await client.workflow.getHandle(workflowId).fetchHistory()).events!.filter((e) => e.activityTaskFailedEventAttributes).map((e) => e.activityTaskFailedEventAttributes!.failure!.applicationFailureInfo?.type);
  /** A rollout with the given retry budget, approved once its canary is in, as BSS goes down. */
  async function approvedIntoOutage(client: Client, taskQueue: string, workflowId: string, nodes: string[], retry: object) {
    const handle = await client.workflow.start(updateBootParameters, { taskQueue, workflowId, args: [spec(nodes, { approval: { required: true }, retry })] });
    await untilStep(handle, 'awaiting approval');
    outage(true);
    await handle.executeUpdate(approveUpdate, { args: [{ who: 'dave', reason: 'canary fine' }] });
    return handle;
  }

  it('waits out an outage longer than five tries of backoff (the old budget, 15 s), then completes', async () => {
    const nodes = await seedCompute('x1111c0s[0-3]b0n0');
    const result = await run(async ({ client, taskQueue }) => {
      const workflowId = uniqueId('bss-outage');
      const handle = await approvedIntoOutage(client, taskQueue, workflowId, nodes, { budgetMinutes: 2, maxIntervalSeconds: 2 });
      await new Promise((resolve) => setTimeout(resolve, 20_000));
      outage(false);
      const done = await handle.result();
      expect((await failedTypes(client, workflowId)).filter((type) => type === 'ServiceUnavailable').length).toBeGreaterThan(5);
      return done;
    });
    const after = await bed.entries(nodes);
    for (const node of nodes) expect(JSON.parse(after[node]!).params).toContain(newRoot());
    expect(result.batches.map((b) => b.count)).toEqual([1, 3]);
  });

  it('past the budget, fails with the reason and rolls back, the rollback itself waiting for BSS to answer', async () => {
    const nodes = await seedCompute('x1112c0s[0-3]b0n0');
    const before = await bed.entries(nodes);
    await run(async ({ client, taskQueue }) => {
      const workflowId = uniqueId('bss-outage-long');
      const handle = await approvedIntoOutage(client, taskQueue, workflowId, nodes, { budgetMinutes: 0.1, maxIntervalSeconds: 1 });
      await untilStep(handle, 'roll back 4 nodes');
      // The rollback runs into the same outage, and waits within its budget until BSS answers.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      outage(false);
      const failure = await failureOf(handle.result());
      expect(failure.type).toBe('ServiceUnavailable');
      expect(failure.message).toMatch(/^apply batch 1 \(3 nodes\): .*\(gave up after \d+ attempts in \d+ s\) \(rolled back 4 nodes to snapshot /);
      expect((await failedTypes(client, `${workflowId}-rollback`)).length).toBeGreaterThan(0);
    });
    expect(await bed.entries(nodes)).toEqual(before);
  });
});

describe('BssClient', () => {
  it("reads a batch's entries in as few GETs as keep each URL within 8,000 characters", async () => {
    const nodes = expandNodeset('x[9000-9001]c[10-14]s[10-59]b10n10').slice(0, 500);
    await seedCompute(nodes.join(','));
    const from = bed.requests.length;
    const entries = await bed.bss.getEntries(nodes);
    expect(nodes.filter((node) => !entries.has(node))).toEqual([]);
    const gets = bed.requests.slice(from);
    expect(gets.length).toBe(2); // 500 names of 17 characters and their commas: 9,000 characters
    expect(gets.every((get) => get.method === 'GET' && new URL(get.url).pathname.length + new URL(get.url).search.length <= 8000)).toBe(true);
  });
});

describe('BSS snapshots', () => {
  it('are taken once per change id: a retry adopts it, later BSS states never overwrite it, another run may not reuse it', async () => {
    const nodes = await seedCompute('x1110c0s[0-3]b0n0');
    const env = new MockActivityEnvironment();
    const changeId = uniqueId('bss-snap');
    const take = (owner: string): Promise<SnapshotSummary> => env.run(bed.activities.snapshotBootParameters, { changeId, owner, nodes: [...nodes, 'x1110c0s9b0n0'] });
    const first = await take('wf/run-1');
    expect(first).toEqual({ changeId, snapshotPath: `s3://ims/bss-changes-test/${changeId}/snapshot.json`, nodes: 5, withoutEntry: 'x1110c0s9b0n0', adopted: false });
    const taken = await bed.snapshots.read(changeId);
    await bed.h.raw('PATCH', bssPath, { hosts: nodes, params: 'changed' });
    expect(await take('wf/run-1')).toEqual({ ...first, adopted: true });
    expect(await bed.snapshots.read(changeId)).toEqual(taken);
    expect(taken!.entries[nodes[0]]).toMatchObject({ params: computeParams(), 'cloud-init': { 'meta-data': { region: 'ocean' } } });
    await expect(take('wf/run-2')).rejects.toMatchObject({ type: 'InvalidInput', nonRetryable: true, message: expect.stringContaining('taken by wf/run-1') });
  });
});

describe('rollbackBootParameters', () => {
  it('restores a change from its S3 snapshot after BSS lost the entries (seed 004), cloud-init included', async () => {
    const nodes = await seedCompute('x1108c0s[0-9]b0n[0-1]');
    const before = await bed.entries(nodes);
    const result = await run(({ client, taskQueue }) =>
      client.workflow.execute(updateBootParameters, { taskQueue, workflowId: uniqueId('bss-loss'), args: [spec('x1108c0s[0-9]b0n[0-1]', { canarySize: 2, batchSize: 5 })] }),
    );
    // etcd rebuilt: the entries are gone (and REDS would only bring back defaults).
    expect((await bed.h.raw('DELETE', bssPath, { hosts: nodes })).status).toBe(200);
    expect(Object.values(await bed.entries(nodes)).every((entry) => entry === null)).toBe(true);

    const report = await run(({ client, taskQueue }) =>
      client.workflow.execute(rollbackBootParameters, { taskQueue, workflowId: uniqueId('bss-restore'), args: [{ changeId: result.changeId }] }),
    );
    expect(report).toMatchObject({ changeId: result.changeId, nodes: 20, recreated: 'x1108c0s[0-9]b0n[0-1]', restored: 0, deleted: '' });
    expect(await bed.entries(nodes)).toEqual(before);
  });

  it('refuses an unknown change id without retrying', async () => {
    const failure = await run(({ client, taskQueue }) =>
      failureOf(client.workflow.execute(rollbackBootParameters, { taskQueue, workflowId: uniqueId('bss-nochange'), args: [{ changeId: 'no-such-change' }] })),
    );
    expect(failure).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    expect(failure.message).toContain('no BSS snapshot for change no-such-change at s3://ims/bss-changes-test/no-such-change/snapshot.json');
  });
});
