// Benchmark: a boot-parameter rollout of --nodes nodes on the dev stack's simulated BSS, run by the
// stack's worker as an operator runs it (canary, approval by signal, batches of --batch-size), against a
// bare loop issuing the same PATCHes (one per distinct new entry per batch, the same batches, at the
// rollout's concurrency) from the same starting entries. The rollout's API calls are counted by the
// simulator (/_sim/requests): its PATCHes against batches × distinct new entries, the floor for a change
// written batch by batch. The time the rollout waits for the approval is not counted.
// Usage: npm run bench -- rollout [--nodes 10000] [--batch-size 500]
import { Client, Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createS3Client } from '../activities/s3/client';
import { attemptRows } from '../cli/history';
import { devStack } from '../dev/config';
import { inBatches } from '../lib/bootParams';
import type { WorkflowStatus } from '../workflows/support/status';
import type { BootParametersResult } from '../workflows/updateBootParameters';
import { benchNodes, bssPath, csm, inPool, removeEntries, resetEntries } from './support/bssNodes';
import { benchLine, seconds } from './support/measure';
import { seedBenchImage } from './support/seedImage';

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '10000' }, 'batch-size': { type: 'string', default: '500' } } });
const count = Number(values.nodes);
const batchSize = Number(values['batch-size']);
const canarySize = 1;
const concurrency = 4; // the rollout's default

const nodes = benchNodes(count);

const batchesOf = (all: string[]) => [all.slice(0, canarySize), ...inBatches(all.slice(canarySize), batchSize)];

async function requestCounts(): Promise<Record<string, number>> {
  const response = await fetch(`${devStack.csm.url}/_sim/requests`);
  if (!response.ok) throw new Error(`the simulator does not count requests (/_sim/requests: ${response.status}): restart the stack`);
  return (await response.json()) as Record<string, number>;
}

interface Entry {
  hosts: string[];
  kernel: string;
  initrd: string;
  params: string;
}

/** The PATCHes a rollout to these entries needs: per batch, one per distinct new entry among its nodes. */
async function plannedPatches(): Promise<{ patches: Entry[][]; distinct: number }> {
  const ours = new Set(nodes);
  const listed = await csm.request<Entry[]>('GET', bssPath); // every entry: a name list of thousands is too long a URL
  const entryOf = new Map(listed.flatMap((entry) => entry.hosts.filter((host) => ours.has(host)).map((host) => [host, JSON.stringify({ kernel: entry.kernel, initrd: entry.initrd, params: entry.params })] as const)));
  const patches = batchesOf(nodes).map((batch) => {
    const byEntry = new Map<string, string[]>();
    for (const node of batch) byEntry.set(entryOf.get(node)!, [...(byEntry.get(entryOf.get(node)!) ?? []), node]);
    return [...byEntry].map(([entry, hosts]) => ({ hosts, ...(JSON.parse(entry) as Omit<Entry, 'hosts'>) }));
  });
  return { patches, distinct: new Set(entryOf.values()).size };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-rollout-'));
const s3 = createS3Client(devStack.s3);
const connection = await Connection.connect({ address: devStack.temporal.address });
const client = new Client({ connection, namespace: devStack.temporal.namespace });
for (const kind of ['rootfs', 'kernel', 'initrd']) fs.writeFileSync(path.join(dir, kind), `${kind} of the rollout benchmark\n`);
const image = await seedBenchImage(s3, { rootfs: path.join(dir, 'rootfs'), kernel: path.join(dir, 'kernel'), initrd: path.join(dir, 'initrd') }, `bench-rollout-${randomUUID().slice(0, 6)}`);
try {
  await resetEntries(nodes, concurrency);
  console.log(`${count} nodes (${nodes[0]}…) in BSS; batches of ${batchSize} after a canary of ${canarySize}, ${concurrency} at once`);

  const before = await requestCounts();
  const handle = await client.workflow.start('updateBootParameters', {
    taskQueue: devStack.temporal.taskQueue,
    workflowId: `bench-rollout-${randomUUID().slice(0, 8)}`,
    args: [{ imageId: image.imageId, nodes, canarySize, batchSize, concurrency, approval: { required: true } }],
  });
  const started = performance.now();
  while ((await handle.query<WorkflowStatus>('status')).step !== 'awaiting approval') await new Promise((resolve) => setTimeout(resolve, 100));
  const toApproval = (performance.now() - started) / 1000;
  const afterApproval = await seconds(async () => {
    await handle.signal('approve', { who: 'bench', reason: 'rollout benchmark' });
    await handle.result();
  });
  const ours = toApproval + afterApproval;
  const result = (await handle.result()) as BootParametersResult;
  const after = await requestCounts();
  const added = (method: string) => Object.entries(after).filter(([key]) => key.startsWith(`${method} /apis/bss/`)).reduce((sum, [key, n]) => sum + n - (before[key] ?? 0), 0);
  const calls = { GET: added('GET'), PATCH: added('PATCH'), PUT: added('PUT'), POST: added('POST') };
  const { patches, distinct } = await plannedPatches();
  const floor = patches.flat().length;
  for (const row of attemptRows((await handle.fetchHistory()).events ?? [])) console.log(`  ${row.label.padEnd(40)} ${((row.durationMs ?? 0) / 1000).toFixed(2)} s`);
  console.log(`rollout: ${ours.toFixed(2)} s (${toApproval.toFixed(2)} s to the approval, ${afterApproval.toFixed(2)} s after), ${result.batches.length} batches; BSS calls ${JSON.stringify(calls)}; ${distinct} distinct new entries`);

  await resetEntries(nodes, concurrency);
  const loop = await seconds(async () => {
    await csm.request('PATCH', bssPath, patches[0][0]); // the canary first, as the rollout does
    await inPool(patches.slice(1), concurrency, async (batch) => {
      for (const patch of batch) await csm.request('PATCH', bssPath, patch);
    });
  });
  console.log(`bare loop: ${floor} PATCHes in ${loop.toFixed(2)} s`);
  console.log(benchLine('rollout', { nodes: count, calls: calls.PATCH, calls_bound: result.batches.length * distinct, all_calls: calls.GET + calls.PATCH + calls.PUT + calls.POST, ratio_loop: ours / loop, seconds: ours, loop_s: loop }));
} finally {
  await removeEntries(nodes, concurrency);
  await image.remove();
  await connection.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
