// Benchmark: validateInitiators for many simulated nodes (libiscsi, one IQN each, every node in the ACL,
// CHAP) against the dev stack's two tgtd servers, through a worker in this process; then the same checks
// as a plain shell loop with the same concurrency (what an admin would script with xargs -P), the anchor.
// Also reports the largest history of any workflow of the run (the parent's runs and every batch).
// Usage: npm run bench -- validate [--nodes 1000,10000] [--per-server 8] [--acl listed|all]
// --acl all exports to any initiator (tgt's ALL) instead of one ACL per node. tgtd looks an initiator up
// by walking its ACL list from the start for each index (iqn_acl_get), quadratic in the list's length: with
// 10,000 listed initiators perf puts 95 % of tgtd's time there and tgtd, not the checks, sets the pace
// (LIO, what the nodes use, walks its list once per login).
import { createWorkflowInputActivities } from '../activities/workflowInput';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { NativeConnection, Worker, DefaultLogger, Runtime } from '@temporalio/worker';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { execa } from 'execa';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { localRunner } from '../activities/export/commandRunner';
import { fileSecretResolver } from '../activities/export/secrets';
import { createInitiatorActivities } from '../activities/initiator/activities';
import { createS3ImportActivities } from '../activities/s3/activities';
import { createS3Client } from '../activities/s3/client';
import { createTgtDriver } from '../activities/tgt/driver';
import { devStack } from '../dev/config';
import { makeSampleImage } from '../dev/sampleImage';
import { lunIdentity, marshalTargetIqn } from '../lib/lunIdentity';
import type { ValidationSummary } from '../workflows/validateInitiators';
import { benchLine } from './support/measure';
import { validationShellLoop } from './support/validationShellLoop';

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '1000,10000' }, 'per-server': { type: 'string', default: '8' }, acl: { type: 'string', default: 'listed' } } });
const sizes = values.nodes.split(',').map(Number);
const perServer = Number(values['per-server']);
Runtime.install({ logger: new DefaultLogger('WARN') });

const run = randomUUID().slice(0, 6);
const dir = mkdtempSync(path.join(tmpdir(), 'bench-validate-'));
const secretsDir = path.join(dir, 'secrets');
const chap = { user: `bench-${run}`, password: randomBytes(12).toString('base64url') };
mkdirSync(path.join(secretsDir, 'chap'), { recursive: true, mode: 0o700 });
writeFileSync(path.join(secretsDir, 'chap/user'), chap.user, { mode: 0o600 });
writeFileSync(path.join(secretsDir, 'chap/password'), chap.password, { mode: 0o600 });
const s3 = createS3Client(devStack.s3);
const nodeName = (i: number) => `nid${String(i + 1).padStart(5, '0')}`;
const iqnPattern = `iqn.2026-11.bench.validate:{node}`;
const servers = devStack.iscsiServers.map((s) => ({
  ...s,
  name: `vb${run}-${s.name}`,
  driver: createTgtDriver({
    server: `vb${run}-${s.name}`,
    controlPort: s.controlPort,
    runner: localRunner(),
    secrets: fileSecretResolver(secretsDir),
    recordFile: path.join(dir, `record-${s.name}.json`),
  }),
}));

async function exportImage(maxNodes: number) {
  const sample = await makeSampleImage(path.join(dir, 'sample'), { payloadMiB: 1, label: `bench-${run}` });
  chmodSync(sample.rootfs, 0o444);
  const key = `bench/validate-${run}/rootfs`;
  const put = await s3.send(new PutObjectCommand({ Bucket: 'boot-images', Key: key, Body: readFileSync(sample.rootfs) }));
  const link = { linkPath: `s3://boot-images/${key}`, linkEtag: put.ETag!.replaceAll('"', '') };
  exportedLink = link; // an interrupted export is removed too
  const initiators = Array.from({ length: maxNodes }, (_, i) => iqnPattern.replace('{node}', nodeName(i)));
  const started = performance.now();
  const exported = await Promise.all(
    servers.map((s) =>
      s.driver.ensureExport({
        identity: lunIdentity(link),
        placement: { layout: 'per-image', targetIqn: marshalTargetIqn(s.name) },
        backingFile: sample.rootfs,
        sizeBytes: statSync(sample.rootfs).size,
        initiators: values.acl === 'all' ? 'generate-node-acls' : initiators,
        chap: { userRef: 'chap/user', secretRef: 'chap/password' },
        portals: [],
      }),
    ),
  );
  console.log(`exported on ${servers.length} servers with ${values.acl === 'all' ? 'no ACL (any initiator)' : `${maxNodes} ACLs each`} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return { link, lun: exported[0].lun, size: statSync(sample.rootfs).size };
}

async function ours(client: Client, taskQueue: string, nodes: number, link: { linkPath: string; linkEtag: string }) {
  const workflowId = `bench-validate-${run}-${nodes}`;
  running = workflowId;
  const started = performance.now();
  const handle = await client.workflow.start('validateInitiators', {
    taskQueue,
    workflowId,
    args: [
      {
        nodes: `nid[00001-${String(nodes).padStart(5, '0')}]`,
        rootfs: { path: link.linkPath, etag: link.linkEtag },
        iscsi: { targets: servers.map((s) => ({ iqn: marshalTargetIqn(s.name), address: s.address, port: s.port })) },
        initiator: { driver: 'libiscsi', iqnPattern },
        chap: { userRef: 'chap/user', secretRef: 'chap/password' },
      },
    ],
  });
  const summary = (await handle.result().catch((error: unknown) => {
    if (error instanceof WorkflowFailedError) throw new Error(`validation failed: ${error.cause?.message}`);
    throw error;
  })) as ValidationSummary;
  const seconds = (performance.now() - started) / 1000;
  running = undefined;
  if (summary.passed !== nodes) throw new Error(`expected ${nodes} passed nodes, got ${JSON.stringify(summary)}`);
  return { seconds, runs: summary.runs, maxEvents: await maxEvents(client, workflowId, handle.firstExecutionRunId, Math.ceil(nodes / 500)) };
}

/** The longest history among the parent's runs (following continue-as-new) and its batches. */
async function maxEvents(client: Client, workflowId: string, firstRunId: string, batches: number): Promise<number> {
  let most = 0;
  for (let runId: string | undefined = firstRunId; runId; ) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    most = Math.max(most, history.events!.length);
    runId = history.events!.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  for (let batch = 0; batch < batches; batch++) {
    most = Math.max(most, (await client.workflow.getHandle(`${workflowId}-batch-${batch}`).describe()).historyLength);
  }
  return most;
}

/** The same per-node, per-server checks as a shell loop, with the same total concurrency. */
const shell = (nodes: number, lun: number, sizeBytes: number) =>
  validationShellLoop({
    initiators: Array.from({ length: nodes }, (_, i) => iqnPattern.replace('{node}', nodeName(i))),
    targets: servers.map((s) => ({ address: s.address, port: s.port, iqn: marshalTargetIqn(s.name) })),
    lun,
    sizeBytes,
    chap,
    concurrency: perServer * servers.length,
    dir,
  });

const connection = await NativeConnection.connect({ address: devStack.temporal.address });
const client = new Client({ connection: await Connection.connect({ address: devStack.temporal.address }), namespace: devStack.temporal.namespace });
const taskQueue = `bench-validate-${run}`;
const worker = await Worker.create({
  connection,
  namespace: devStack.temporal.namespace,
  taskQueue,
  workflowsPath: createRequire(import.meta.url).resolve('../workflows/index.ts'),
  activities: {
    ...createWorkflowInputActivities(),
    ...createS3ImportActivities(s3),
    ...createInitiatorActivities({ INITIATOR_SECRETS_DIR: secretsDir, INITIATOR_WORK_DIR: path.join(dir, 'work'), LUKS_KEY_DIR: path.join(dir, 'keys'), INITIATOR_PER_SERVER_CONCURRENCY: String(perServer) }),
  },
  shutdownGraceTime: '5s',
});
const lines: string[] = [];
let exportedLink: { linkPath: string; linkEtag: string } | undefined;
let cleaned = false;
/** The workflow in progress, terminated (its batches with it) when the benchmark is interrupted. */
let running: string | undefined;
async function cleanUp() {
  if (cleaned) return;
  cleaned = true;
  if (running) await client.workflow.getHandle(running).terminate('benchmark interrupted').catch((error) => console.error(`${running}: ${error.message}`));
  for (const s of servers) if (exportedLink) await removeWhenIdle(s.driver, lunIdentity(exportedLink)).catch((error) => console.error(`${s.name}: ${error.message}`));
  for (const s of devStack.iscsiServers) await execa('tgtadm', ['-C', String(s.controlPort), '--op', 'delete', '--mode', 'account', '--user', chap.user], { reject: false });
  rmSync(dir, { recursive: true, force: true });
}
/** tgtd refuses to remove a target with initiators logged in: checks of a terminated run may still be finishing. */
async function removeWhenIdle(driver: ReturnType<typeof createTgtDriver>, identity: ReturnType<typeof lunIdentity>) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await driver.removeExport({ identity });
    } catch (error) {
      if (attempt === 10 || !/still active/.test((error as Error).message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
try {
  const { link, lun, size } = await exportImage(Math.max(...sizes));
  await worker.runUntil(async () => {
    for (const nodes of sizes) {
      const mine = await ours(client, taskQueue, nodes, link);
      const anchor = await shell(nodes, lun, size);
      console.log(`validateInitiators ${nodes} nodes: ${mine.seconds.toFixed(1)} s (${mine.runs} run(s), largest history ${mine.maxEvents} events); shell loop: ${anchor.toFixed(1)} s`);
      lines.push(benchLine('validate', { nodes, seconds: mine.seconds, nodes_per_s: nodes / mine.seconds, max_events_per_workflow: mine.maxEvents, ratio_shell: mine.seconds / anchor, acl: values.acl }));
    }
  });
} finally {
  await cleanUp();
  await client.connection.close();
  await connection.close();
}
for (const line of lines) console.log(line);
