// Load (issue 19): twenty lifecycles of small images at once on the stack's own workers (import, LUKS2,
// export on both tgtd servers, validation, canary + batches in BSS), beside a lifecycle whose validation
// checks 10,000 nodes on both servers. Every one must complete with the invariants of
// test/helpers/invariants.ts holding, and no workflow of the run (parents, phases, validation batches,
// every run of a continue-as-new chain) may pass 20,000 events. The stack's memory and Temporal's
// history sizes are printed as the figures.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsmClient } from '../../activities/csm/client';
import { devStack } from '../../dev/config';
import { makeSampleImage, type SampleImage } from '../../dev/sampleImage';
import { expandNodeset } from '../../lib/nodeset';
import { imageLifecycle, type LifecycleSummary } from '../../workflows/imageLifecycle';
import { removeDevStackExports } from '../helpers/exports';
import { lifecycleViolations, type BssEntry } from '../helpers/invariants';
import { sampleStackMemory } from '../helpers/stackMemory';
import { connectClient, uniqueId } from '../helpers/temporal';

const lifecycles = 20;
const wideNodes = 10_000;
const maxEvents = 20_000;
const csm = new CsmClient(devStack.csm);
const bssPath = '/apis/bss/boot/v1/bootparameters';
const initiator = { driver: 'libiscsi', iqnPattern: 'iqn.2026-12.test.load:{node}' } as const;
const servers = devStack.iscsiServers.map((s) => ({ name: s.name }));

let client: Client;
let dir: string;
let sample: SampleImage;
/** The wide lifecycle's own image: it is exported unencrypted, so its staged copy must not be the small ones' plaintext. */
let wideSample: SampleImage;
const summaries: LifecycleSummary[] = [];
beforeAll(async () => {
  client = await connectClient();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'load-'));
  sample = await makeSampleImage(path.join(dir, 'sample'), { payloadMiB: 1, label: uniqueId('load') });
  wideSample = await makeSampleImage(path.join(dir, 'wide'), { payloadMiB: 1, label: uniqueId('load-wide') });
});
afterAll(async () => {
  const exported = summaries.map(({ phases: { export: e } }) => ({ linkPath: e!.artifact.path, linkEtag: e!.artifact.etag, targetIqn: e!.layout === 'per-image' ? e!.servers[0].iqn : undefined }));
  await removeDevStackExports(exported);
  await client?.connection.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Every execution (each run of a chain) whose workflow id starts with the prefix, started since then. */
async function executionsOf(prefix: string, since: Date): Promise<WorkflowExecutionInfo[]> {
  const found: WorkflowExecutionInfo[] = [];
  for await (const execution of client.workflow.list({ query: `StartTime >= "${since.toISOString()}"` })) {
    if (execution.workflowId.startsWith(prefix)) found.push(execution);
  }
  return found;
}

async function readBss(nodes: string[]): Promise<Record<string, BssEntry | undefined>> {
  if (!nodes.length) return {};
  const listed = await csm.request<(BssEntry & { hosts: string[] })[]>('GET', `${bssPath}?name=${nodes.join(',')}`);
  return Object.fromEntries(nodes.map((node) => [node, listed.find((entry) => entry.hosts.includes(node))]));
}

describe('load', () => {
  it(`${lifecycles} lifecycles and a ${wideNodes.toLocaleString('en')}-node validation at once: all complete, no workflow above ${maxEvents.toLocaleString('en')} events`, async () => {
    const since = new Date(Date.now() - 1000);
    const prefix = uniqueId('load');
    const cabinet = `x${randomInt(1000, 9999)}`;
    // Three rollout nodes per small lifecycle, each with an entry of its own in BSS.
    const rolloutOf = (index: number) => expandNodeset(`${cabinet}c${index}s0b[0-2]n0`);
    for (let index = 0; index < lifecycles; index++) {
      await csm.request('POST', bssPath, { hosts: rolloutOf(index), kernel: 's3://boot-images/load-old/kernel', initrd: 's3://boot-images/load-old/initrd', params: 'console=ttyS0 quiet' });
    }
    const imported = (image: SampleImage) => ({ rootfs: { file: image.rootfs }, kernel: { file: image.kernel }, initrd: { file: image.initrd } });
    const small = (index: number) => ({
      name: `${prefix}-${index}`,
      import: imported(sample),
      encrypt: { luksVersion: 2, sampleSectors: 16, pbkdf2Iterations: 1000 },
      export: { servers, initiators: { nodes: ['nid[001-002]', ...rolloutOf(index)].join(','), iqnPattern: initiator.iqnPattern } },
      validate: { nodes: 'nid[001-002]', initiator },
      bootParameters: { nodes: rolloutOf(index).join(','), canarySize: 1, batchSize: 2, validate: { options: { initiator } } },
    });
    // The wide one: an open export (any initiator), so tgtd's ACL walk does not set the pace (bench/validate.ts).
    const wide = { name: `${prefix}-wide`, import: imported(wideSample), export: { servers, initiators: 'generate-node-acls' }, validate: { nodes: `nid[00001-${wideNodes}]`, initiator } };
    const specs = [...Array.from({ length: lifecycles }, (_, index) => small(index)), wide];

    const memory = sampleStackMemory();
    const started = Date.now();
    const handles = await Promise.all(specs.map((spec) => client.workflow.start(imageLifecycle, { taskQueue: devStack.temporal.taskQueue, workflowId: spec.name, args: [spec] })));
    const results = await Promise.allSettled(handles.map((handle) => handle.result()));
    const seconds = (Date.now() - started) / 1000;
    const peaks = memory.stop();
    for (const result of results) if (result.status === 'fulfilled') summaries.push(result.value);

    const executions = await executionsOf(prefix, since);
    const largest = [...executions].sort((a, b) => b.historyLength - a.historyLength);
    const mib = (bytes = 0) => (bytes / 2 ** 20).toFixed(2);
    console.log(
      [
        `load: ${specs.length} lifecycles in ${seconds.toFixed(0)} s, ${executions.length} workflow executions`,
        '',
        `| stack process | peak RSS (MiB, with children) |`,
        `|---|---|`,
        ...Object.entries(peaks.byProcess).sort(([, a], [, b]) => b - a).map(([name, peak]) => `| ${name} | ${peak.toFixed(0)} |`),
        `| whole stack (at one sample, ${peaks.samples} samples) | ${peaks.total.toFixed(0)} |`,
        '',
        `| workflow (largest histories) | events | history size (MiB) |`,
        `|---|---|---|`,
        ...largest.slice(0, 8).map((e) => `| ${e.workflowId} | ${e.historyLength} | ${mib(e.historySize)} |`),
        `| all ${executions.length} executions | ${executions.reduce((sum, e) => sum + e.historyLength, 0)} | ${mib(executions.reduce((sum, e) => sum + (e.historySize ?? 0), 0))} |`,
      ].join('\n'),
    );

    const failures = results.flatMap((result, index) => (result.status === 'rejected' ? [`${specs[index].name}: ${(result.reason as Error).message} ${(result.reason as { cause?: Error }).cause?.message ?? ''}`] : []));
    expect(failures).toEqual([]);
    const wideSummary = summaries.at(-1)!;
    expect(wideSummary.phases.validate).toMatchObject({ nodes: wideNodes, passed: wideNodes, failed: 0 });
    // Every workflow of the run is accounted for: each lifecycle's phases and the wide validation's batches.
    expect(executions.filter((e) => e.workflowId.endsWith('.validate-batch-19')).length).toBeGreaterThan(0);
    expect(largest[0].historyLength).toBeLessThanOrEqual(maxEvents);

    for (const [index, summary] of summaries.slice(0, lifecycles).entries()) {
      expect(summary.phases.bootParameters!.batches.reduce((sum, batch) => sum + batch.count, 0), summary.name).toBe(3);
      const violations = await lifecycleViolations({ summary, servers: servers.map((s) => s.name), bss: {}, readBss });
      const entries = await readBss(rolloutOf(index));
      const target = summary.phases.export!.servers[0].iqn;
      expect(Object.values(entries).every((entry) => entry?.params?.includes(target)), `${summary.name}: every rollout node boots from its export`).toBe(true);
      expect(violations, summary.name).toEqual([]);
    }
    expect((await lifecycleViolations({ summary: wideSummary, servers: servers.map((s) => s.name), bss: {}, readBss })), wideSummary.name).toEqual([]);
  }, 40 * 60_000);
});
