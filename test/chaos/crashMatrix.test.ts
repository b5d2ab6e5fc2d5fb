// The crash matrix (issue 19): the whole lifecycle (import, CFS customize, LUKS2, export on both tgtd
// servers, validation, canary + approval + batches) once per injection point. Each run has an
// orchestrator worker process of its own (its own task queue and encryption host), killed with
// SIGKILL at the point and replaced by a new one; the runs that break what the stack shares (an
// iSCSI agent, the Temporal server) run one at a time after them. The point is found from the
// workflows' status queries, pending activities and histories, never by sleeping. Every run must
// complete, show that the break landed where it was meant to, and pass the invariants of
// test/helpers/invariants.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { execa } from 'execa';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsmClient } from '../../activities/csm/client';
import { devStack } from '../../dev/config';
import { makeLayerRepo } from '../../dev/gitLayer';
import { readRecord, stopProcess } from '../../dev/processes';
import { makeSampleImage, type SampleImage } from '../../dev/sampleImage';
import { lunIdentity } from '../../lib/lunIdentity';
import { Manifest, MediaType } from '../../lib/manifest';
import { expandNodeset } from '../../lib/nodeset';
import { iscsiServerTaskQueue } from '../../lib/taskQueues';
import { imageLifecycle, type LifecycleSummary } from '../../workflows/imageLifecycle';
import { approveUpdate } from '../../workflows/updateBootParameters';
import type { WorkflowStatus } from '../../workflows/support/status';
import { removeDevStackExports } from '../helpers/exports';
import { attemptRowsOf } from '../helpers/history';
import { objectStore } from '../helpers/images';
import { invariantNames, lifecycleViolations, type BssEntry } from '../helpers/invariants';
import { startS3Proxy, type S3Proxy } from '../helpers/s3Proxy';
import { restoreStack } from '../helpers/stack';
import { setSimFaults } from '../helpers/simFaults';
import { connectClient, uniqueId } from '../helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from '../helpers/workerProcess';

const csm = new CsmClient(devStack.csm);
const bssPath = '/apis/bss/boot/v1/bootparameters';
const initiator = { driver: 'libiscsi', iqnPattern: 'iqn.2026-12.test.crash:{node}' } as const;
const oldRootfs = 's3://boot-images/crash-old/rootfs:0123456789abcdef0123456789abcdef-3';
const oldParams = (index: number) => `console=ttyS${index} root=sbps-s3:${oldRootfs}:dvs:api-gw-service-nmn.local:300:nmn0 quiet`;

/** One lifecycle of the matrix: where it is broken, and what makes its run differ from the others. */
interface Injection {
  name: string;
  /** MiB of pseudo-random payload in the rootfs: more where the broken step must last. */
  payloadMiB?: number;
  /** Nodes validated (nid[001-N]) and rolled out (one canary, then the rest). */
  validateNodes?: number;
  rolloutNodes?: number;
  /** Argon2id key slots (cryptsetup's default: seconds per slot) where the LUKS steps must last; else cheap PBKDF2. */
  slowKeySlots?: boolean;
  /** The worker's S3 traffic through a proxy that forwards upload bodies at this rate. */
  uploadBytesPerSecond?: number;
  /** The operator approves only after the injection, or the injection approves itself (else as soon as the rollout asks). */
  approval?: 'after the injection' | 'by the injection';
  /** Waits for the point, breaks and restores; returns where the break landed. */
  inject(run: Run): Promise<string>;
  /** The activity the kill interrupted (in `<lifecycle>.<phase>`): an attempt of it timed out, a later one completed. */
  killed?: { phase: string; type: string; label?: string };
  /** What else the history must show afterwards. */
  verify?(client: Client, lifecycleId: string): Promise<void>;
}

interface Run {
  /** The worker's own scratch: its LUKS_WORK_DIR and INITIATOR_WORK_DIR. */
  workDirs: { luks: string; initiator: string };
  client: Client;
  handle: WorkflowHandle<typeof imageLifecycle>;
  /** The run's worker process; `killAndReplace` SIGKILLs it and starts a new one on the same queue and host. */
  worker: { current: WorkerProcess; killAndReplace(): Promise<void> };
  proxy?: S3Proxy;
  waitFor(what: string, reached: () => Promise<boolean>): Promise<void>;
  /** Approves the rollout once it awaits approval, as the operator does. */
  approve(): Promise<void>;
}

interface Outcome {
  injection: string;
  outcome: string;
  landed: string;
  invariants: string;
  seconds: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function pendingActivities(client: Client, workflowId: string) {
  const described = await client.workflow.getHandle(workflowId).describe().catch(() => undefined);
  return described?.raw.pendingActivities ?? [];
}

/** A pending activity of this type in that workflow, picked up by a worker (not only scheduled). */
async function runningActivity(client: Client, workflowId: string, type: string): Promise<boolean> {
  const pending = await pendingActivities(client, workflowId);
  return pending.some((a) => a.activityType?.name === type && a.state === 2); // PENDING_ACTIVITY_STATE_STARTED
}

async function stepOf(client: Client, workflowId: string): Promise<string | undefined> {
  return (await client.workflow.getHandle(workflowId).query<WorkflowStatus>('status').catch(() => undefined))?.step;
}

/** The attempts of one activity type (and label) in one workflow, in order: e.g. ['timed-out', 'completed']. */
async function outcomesOf(client: Client, workflowId: string, type: string, label = ''): Promise<string[]> {
  return (await attemptRowsOf(client, workflowId)).filter((row) => row.type === type && row.label.startsWith(label)).map((row) => row.outcome);
}

/** SIGKILLs the run's worker as soon as `type` runs in `phase` of the lifecycle, and starts another. */
const killWorkerDuring = (phase: string, type: string): Pick<Injection, 'inject' | 'killed'> => ({
  killed: { phase, type },
  async inject(run) {
    const workflowId = `${run.handle.workflowId}.${phase}`;
    await run.waitFor(`${type} running in ${workflowId}`, () => runningActivity(run.client, workflowId, type));
    await run.worker.killAndReplace();
    return `${type} in ${phase}`;
  },
});

/** Secret files (`.secret-*`) in the worker's LUKS scratch, at its top or in a `<scratch>*` directory. */
function secretFilesIn(secretsDir: string, scratch: string): string[] {
  const names = fs.existsSync(secretsDir) ? fs.readdirSync(secretsDir, { recursive: true, encoding: 'utf8' }) : [];
  return names.filter((name) => path.basename(name).startsWith('.secret-') && (scratch ? name.startsWith(scratch) : !name.includes(path.sep)));
}

/** SIGKILLs the run's worker while `type` runs in the encrypt phase with a key written to its scratch. */
const killWorkerWhileKeyOnDisk = (type: string, scratch: string): Pick<Injection, 'inject' | 'killed'> => ({
  killed: { phase: 'encrypt', type },
  async inject(run) {
    const workflowId = `${run.handle.workflowId}.encrypt`;
    const secretsDir = path.join(run.workDirs.luks, 'secrets');
    await run.waitFor(`${type} with a key file in ${secretsDir}`, async () => secretFilesIn(secretsDir, scratch).length > 0 && (await runningActivity(run.client, workflowId, type)));
    const onDisk = secretFilesIn(secretsDir, scratch).length;
    await run.worker.killAndReplace();
    return `${type}, ${onDisk} key file(s) on disk`;
  },
});

/** A service of the dev stack killed with SIGKILL, then brought back by the stack itself. */
async function killStackService(name: string): Promise<number> {
  const record = readRecord(name);
  if (!record) throw new Error(`the dev stack runs no ${name}`);
  process.kill(record.pid, 'SIGKILL');
  await restoreStack();
  const now = readRecord(name)!.pid;
  expect(now, `${name} restarted`).not.toBe(record.pid);
  return record.pid;
}

const injections: Injection[] = [
  {
    name: 'SIGKILL mid-upload',
    payloadMiB: 24,
    uploadBytesPerSecond: 8 * 1024 * 1024,
    killed: { phase: 'import', type: 'uploadArtifact', label: 'upload rootfs' },
    async inject(run) {
      const workflowId = `${run.handle.workflowId}.import`;
      // At least two 5 MiB parts of the rootfs in S3, the rest still on the wire.
      await run.waitFor('two parts uploaded', async () => run.proxy!.uploadedBytes() >= 10 * 2 ** 20 && (await runningActivity(run.client, workflowId, 'uploadArtifact')));
      await run.worker.killAndReplace();
      return `uploadArtifact in ${workflowId} after ${(run.proxy!.uploadedBytes() / 2 ** 20).toFixed(0)} MiB`;
    },
  },
  {
    name: 'SIGKILL mid-customization poll',
    payloadMiB: 32,
    killed: { phase: 'customize', type: 'waitForSession' },
    async inject(run) {
      const workflowId = `${run.handle.workflowId}.customize`;
      // The poll has reported a session not yet complete.
      await run.waitFor('CFS session polled, not complete', async () => {
        const poll = (await pendingActivities(run.client, workflowId)).find((a) => a.activityType?.name === 'waitForSession' && a.state === 2);
        const details = poll?.heartbeatDetails?.payloads?.[0]?.data;
        return Boolean(details) && JSON.parse(Buffer.from(details!).toString('utf8')).status !== 'complete';
      });
      await run.worker.killAndReplace();
      return `waitForSession in ${workflowId}`;
    },
  },
  { name: 'SIGKILL mid-encryption (cryptsetup holding the key files)', slowKeySlots: true, ...killWorkerWhileKeyOnDisk('encryptFile', '') },
  { name: 'SIGKILL mid-verification (key in its scratch)', slowKeySlots: true, ...killWorkerWhileKeyOnDisk('verifyEncryptedFile', 'verify-') },
  { name: 'SIGKILL mid-validation batch', validateNodes: 8, ...killWorkerDuring('validate-batch-0', 'checkInitiators') },
  {
    name: 'SIGKILL mid-BSS batch',
    rolloutNodes: 40,
    approval: 'by the injection',
    killed: { phase: 'boot-parameters', type: 'applyBootParameters' },
    async inject(run) {
      const workflowId = `${run.handle.workflowId}.boot-parameters`;
      // BSS answers each call in 250 ms from the approval on, so the batch (one PATCH per node) lasts
      // seconds: it would otherwise end between two polls. The injection approves only once that is set:
      // a canary phase of a second or two was missed whole by polls on a loaded machine.
      await run.waitFor('awaiting approval', async () => (await stepOf(run.client, workflowId)) === 'awaiting approval');
      await setSimFaults({ latencyMs: 250 });
      try {
        await run.approve();
        await run.waitFor('a batch after the canary applying', async () => (await stepOf(run.client, workflowId)) === 'batches' && (await runningActivity(run.client, workflowId, 'applyBootParameters')));
        await run.worker.killAndReplace();
      } finally {
        await setSimFaults({ latencyMs: 0 });
      }
      return `applyBootParameters (batch 1) in ${workflowId}`;
    },
  },
  {
    name: 'SIGKILL while waiting for approval',
    approval: 'after the injection',
    async inject(run) {
      const workflowId = `${run.handle.workflowId}.boot-parameters`;
      await run.waitFor('awaiting approval', async () => (await stepOf(run.client, workflowId)) === 'awaiting approval');
      await run.worker.killAndReplace();
      return `${workflowId} awaiting approval`;
    },
  },
];

/** These break what every run shares: one at a time. */
const sharedInjections: Injection[] = [
  {
    name: 'SIGKILL after the first of two servers exported',
    async inject(run) {
      const workflowId = `${run.handle.workflowId}.export`;
      // iscsi2's agent is stopped first, so iscsi1 exports while iscsi2's work waits in its queue.
      await stopProcess('worker-iscsi2');
      try {
        await run.waitFor('export on iscsi1 completed', async () => (await outcomesOf(run.client, workflowId, 'ensureExport')).includes('completed'));
        await run.worker.killAndReplace();
      } finally {
        await restoreStack();
      }
      return 'export: iscsi1 exported, iscsi2 not yet';
    },
    // Nothing exported twice: one export per server in the history, as on the servers.
    async verify(client, lifecycleId) {
      const rows = (await attemptRowsOf(client, `${lifecycleId}.export`)).filter((row) => row.type === 'ensureExport');
      expect(rows.map((row) => [row.label, row.outcome])).toEqual([['export on iscsi1', 'completed'], ['export on iscsi2', 'completed']]);
    },
  },
  {
    name: 'iSCSI agent (iscsi1) SIGKILLed mid-export',
    async inject(run) {
      const workflowId = `${run.handle.workflowId}.export`;
      const queue = iscsiServerTaskQueue('iscsi1');
      await run.waitFor('staging on iscsi1', async () => (await attemptRowsOf(run.client, workflowId)).some((row) => row.type === 'stageArtifact' && row.taskQueue === queue && row.outcome === 'running'));
      const pid = await killStackService('worker-iscsi1');
      return `stageArtifact pending on iscsi1; agent ${pid} restarted`;
    },
  },
  {
    name: 'Temporal dev server SIGKILLed and restarted mid-encryption',
    slowKeySlots: true,
    async inject(run) {
      const workflowId = `${run.handle.workflowId}.encrypt`;
      await run.waitFor('encryptFile running', () => runningActivity(run.client, workflowId, 'encryptFile'));
      const pid = await killStackService('temporal');
      return `encryptFile in ${workflowId}; server ${pid} restarted`;
    },
  },
];

describe('crash matrix: the whole lifecycle survives a break at each point', () => {
  let client: Client;
  let dir: string;
  let bundle: string;
  let layer: { cloneUrl: string; commit: string; playbook: string };
  const samples = new Map<number, Promise<SampleImage>>();
  const outcomes: Outcome[] = [];
  const exported: { linkPath: string; linkEtag: string; targetIqn?: string }[] = [];

  beforeAll(async () => {
    client = await connectClient();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crash-matrix-'));
    // One bundle of the workflow code for every worker process: a restart does not bundle again.
    bundle = path.join(dir, 'workflows.js');
    await execa('tsx', ['workers/bundleWorkflows.ts', bundle]);
    layer = await makeLayerRepo('crash', [{ name: 'motd', copy: { dest: '/etc/motd', content: 'customized in the crash matrix\n' } }]);
  }, 180_000);

  afterAll(async () => {
    await removeDevStackExports(exported);
    await client?.connection.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    console.log(['| injection | outcome | landed | invariants | time |', '|---|---|---|---|---|', ...outcomes.map((o) => `| ${o.injection} | ${o.outcome} | ${o.landed} | ${o.invariants} | ${o.seconds.toFixed(0)} s |`)].join('\n'));
  });

  const sample = (payloadMiB: number) => {
    if (!samples.has(payloadMiB)) samples.set(payloadMiB, makeSampleImage(path.join(dir, `sample-${payloadMiB}`), { payloadMiB, label: `crash-${payloadMiB}` }));
    return samples.get(payloadMiB)!;
  };

  /** Rollout nodes in a cabinet of their own, each with its own console, so each is its own PATCH. */
  async function seedRolloutNodes(count: number): Promise<string[]> {
    const nodes = expandNodeset(`x${randomInt(1000, 9999)}c0s[0-${count - 1}]b0n0`);
    for (const [index, node] of nodes.entries()) {
      await csm.request('POST', bssPath, { hosts: [node], kernel: 's3://boot-images/crash-old/kernel', initrd: 's3://boot-images/crash-old/initrd', params: oldParams(index) });
    }
    return nodes;
  }

  async function readBss(nodes: string[]): Promise<Record<string, BssEntry | undefined>> {
    const listed = await csm.request<(BssEntry & { hosts: string[] })[]>('GET', `${bssPath}?name=${nodes.join(',')}`);
    return Object.fromEntries(nodes.map((node) => [node, listed.find((entry) => entry.hosts.includes(node))]));
  }

  /** What every rolled-out node's entry must be now: its old entry pointed at the final image, its LUN, its key. */
  async function expectedBss(summary: LifecycleSummary, nodes: string[]): Promise<Record<string, BssEntry>> {
    const manifest = Manifest.parse(JSON.parse(await objectStore.getText(summary.manifest.path)));
    const link = (type: string) => manifest.artifacts.find((a) => a.type === type)!.link;
    const rootfs = link(MediaType.rootfs);
    const luks = summary.phases.encrypt!.artifact;
    const targets = summary.phases.export!.servers.map((s) => {
      const server = devStack.iscsiServers.find((d) => d.name === s.server)!;
      return `${s.iqn}@${server.address}:${server.port}`;
    });
    const ours = [`bootimg.iscsi.targets=${targets.join(',')}`, `bootimg.lun.wwid=${lunIdentity({ linkPath: luks.link.path, linkEtag: luks.link.etag! }).wwid}`, `bootimg.luks.key=${luks.luks.keyId}`];
    return Object.fromEntries(
      nodes.map((node, index) => [
        node,
        { kernel: link(MediaType.kernel).path, initrd: link(MediaType.initrd).path, params: `console=ttyS${index} root=sbps-s3:${rootfs.path}:${rootfs.etag}:dvs:api-gw-service-nmn.local:300:nmn0 quiet ${ours.join(' ')}` },
      ]),
    );
  }

  async function runLifecycle(injection: Injection): Promise<void> {
    const startedAt = Date.now();
    const image = await sample(injection.payloadMiB ?? 2);
    const rolloutNodes = await seedRolloutNodes(injection.rolloutNodes ?? 3);
    const validateNodes = `nid[001-${String(injection.validateNodes ?? 2).padStart(3, '0')}]`;
    const proxy = injection.uploadBytesPerSecond ? await startS3Proxy(devStack.s3.endpoint, { uploadBytesPerSecond: injection.uploadBytesPerSecond }) : undefined;
    const taskQueue = uniqueId('crash');
    // Scratch of this run's workers alone, so what a kill leaves there is this run's.
    const workDirs = { luks: path.join(dir, taskQueue, 'luks'), initiator: path.join(dir, taskQueue, 'initiator') };
    const workerEnv = { WORKER_HOST_ID: uniqueId('crash-host'), WORKFLOW_BUNDLE: bundle, LUKS_WORK_DIR: workDirs.luks, INITIATOR_WORK_DIR: workDirs.initiator, ...(proxy ? { S3_ENDPOINT: proxy.endpoint } : {}) };
    const worker = {
      current: await startWorkerProcess(taskQueue, workerEnv),
      async killAndReplace() {
        await worker.current.kill('SIGKILL');
        worker.current = await startWorkerProcess(taskQueue, workerEnv);
      },
    };
    const name = uniqueId('crash');
    try {
      const handle = await client.workflow.start(imageLifecycle, {
        taskQueue,
        workflowId: uniqueId('crash-lifecycle'),
        args: [
          {
            name,
            import: { rootfs: { file: image.rootfs }, kernel: { file: image.kernel }, initrd: { file: image.initrd }, partSizeMiB: 5 },
            customize: { configuration: name, layers: [{ name: 'motd', ...layer }], pollIntervalSeconds: 1 },
            encrypt: { luksVersion: 2, sampleSectors: 16, ...(injection.slowKeySlots ? {} : { pbkdf2Iterations: 1000 }) },
            export: { servers: devStack.iscsiServers.map((s) => ({ name: s.name })), initiators: { nodes: [...expandNodeset(validateNodes), ...rolloutNodes].join(','), iqnPattern: initiator.iqnPattern } },
            validate: { nodes: validateNodes, initiator, batchSize: 4 },
            bootParameters: { nodes: rolloutNodes.join(','), canarySize: 1, batchSize: 100, approval: { required: true }, validate: { options: { initiator } } },
          },
        ],
      });
      const waitFor = async (what: string, reached: () => Promise<boolean>) => {
        const deadline = Date.now() + 8 * 60_000;
        while (!(await reached().catch(() => false))) {
          const described = await handle.describe().catch(() => undefined);
          if (described && described.status.name !== 'RUNNING') throw new Error(`${injection.name}: the lifecycle ended ${described.status.name} before "${what}"`);
          if (Date.now() > deadline) throw new Error(`${injection.name}: never reached "${what}"`);
          await sleep(200);
        }
      };
      const approve = async () => {
        const rollout = `${handle.workflowId}.boot-parameters`;
        await waitFor('awaiting approval', async () => (await stepOf(client, rollout)) === 'awaiting approval');
        await client.workflow.getHandle(rollout).executeUpdate(approveUpdate, { args: [{ who: 'crash-matrix', reason: 'canary checked' }] });
      };
      const run: Run = { workDirs, client, handle, worker, proxy, waitFor, approve };
      let landed: string;
      if (injection.approval === 'after the injection') {
        landed = await injection.inject(run);
        await approve();
      } else if (injection.approval === 'by the injection') {
        landed = await injection.inject(run);
      } else {
        [landed] = await Promise.all([injection.inject(run), approve()]);
      }
      const summary = await handle.result();
      const encrypted = summary.phases.encrypt!.artifact;
      exported.push({ linkPath: encrypted.link.path, linkEtag: encrypted.link.etag!, targetIqn: summary.phases.export!.servers[0].iqn });

      if (injection.killed) {
        const outcomes = await outcomesOf(client, `${handle.workflowId}.${injection.killed.phase}`, injection.killed.type, injection.killed.label);
        expect(outcomes.slice(outcomes.indexOf('timed-out')), `attempts of ${injection.killed.type}: ${outcomes.join(', ')}`).toEqual(['timed-out', 'completed']);
      }
      await injection.verify?.(client, handle.workflowId);
      expect(summary.phases.bootParameters!.approval).toMatchObject({ verdict: 'approved', who: 'crash-matrix' });
      expect(summary.phases.validate).toMatchObject({ failed: 0 });
      const violations = await lifecycleViolations({ summary, servers: devStack.iscsiServers.map((s) => s.name), bss: await expectedBss(summary, rolloutNodes), readBss, workDirs: Object.values(workDirs) });
      expect(violations).toEqual([]);
      outcomes.push({ injection: injection.name, outcome: 'completed', landed, invariants: `${invariantNames.length}/${invariantNames.length} hold`, seconds: (Date.now() - startedAt) / 1000 });
    } catch (error) {
      outcomes.push({ injection: injection.name, outcome: `FAILED: ${(error as Error).message.slice(0, 200)}`, landed: '', invariants: '', seconds: (Date.now() - startedAt) / 1000 });
      throw error;
    } finally {
      await worker.current.kill();
      await proxy?.close();
    }
  }

  describe.concurrent('a worker of its own killed', () => {
    for (const injection of injections) it(injection.name, () => runLifecycle(injection), 600_000);
  });
  describe('a shared process broken, one at a time', () => {
    for (const injection of sharedInjections) it(injection.name, () => runLifecycle(injection), 600_000);
  });
});
