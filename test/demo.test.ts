// npm run demo's lifecycle (dev/demo.ts) as a user runs it: every phase, customization included, with
// its two injected faults handled, and the history it prints at the end showing them; the workers'
// Prometheus series moving with it, and the Grafana dashboard querying only series they serve.
import { execa } from 'execa';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectAttempts } from '../cli/history';
import { devStack, stackEnvironment } from '../dev/config';
import { metricCatalogue } from '../lib/metrics';
import { dashboardSeries, movingSample, sampleEvery, scrape, type Totals } from './helpers/prometheus';
import { connectClient } from './helpers/temporal';

const endpoints = { orchestrator: [devStack.orchestratorMetricsAddress], 'iscsi-server': devStack.iscsiServers.map((s) => s.metricsAddress) };
const scrapeAll = async () => new Map(await Promise.all([...endpoints.orchestrator, ...endpoints['iscsi-server']].map(async (a) => [a, await scrape(a)] as const)));
const moved = (before: Map<string, Totals>, after: Map<string, Totals>, address: string, sample: string) =>
  (after.get(address)!.get(sample) ?? 0) - (before.get(address)!.get(sample) ?? 0);

let client: Client;
beforeAll(async () => {
  client = await connectClient();
});
afterAll(() => client.connection.close());

describe('npm run demo', () => {
  it('runs every phase, prints a history with the failed attempt, the retry that succeeded and the repair, and moves every documented metric', { timeout: 300_000 }, async () => {
    const metricsBefore = await scrapeAll();
    // Scraped all along, as a Prometheus does, to see each series move while the demo runs.
    const sampler = sampleEvery(1000, scrapeAll);
    const demo = await execa('tsx', ['dev/demo.ts'], { env: stackEnvironment(), reject: false, all: true });
    const demoEnded = Date.now();
    expect(demo.exitCode, demo.all).toBe(0);
    const workflowId = /as (demo-lifecycle-\S+)/.exec(demo.stdout)![1];

    const rows = await collectAttempts(client, workflowId);
    const phases = rows.filter((r) => r.kind === 'child-workflow' && !r.label.includes(' › ')).map((r) => [r.type, r.outcome]);
    expect(phases).toEqual(['importImage', 'customizeImage', 'encryptImage', 'exportImage', 'validateInitiators', 'updateBootParameters'].map((type) => [type, 'completed']));
    const step = (label: string) => rows.filter((r) => r.label.replace(/ \(attempt \d+\)$/, '').endsWith(label)).map((r) => [r.attempt, r.outcome, r.errorType ?? null]);
    expect(step('importImage › create IMS image record')).toEqual([
      [1, 'failed', 'ServiceUnavailable'],
      [2, 'completed', null],
    ]);
    expect(step('customizeImage › check resultant manifest')).toEqual([
      [1, 'failed', 'ManifestEtagFault'],
      [2, 'completed', null],
    ]);
    expect(step('customizeImage › repair ManifestEtagFault for check resultant manifest')).toEqual([[1, 'completed', null]]);

    // The printed history is imagectl's table, and the summary names both faults.
    expect(demo.stdout).toContain(`imagectl history ${workflowId}:`);
    expect(demo.stdout).toMatch(/1\s+failed\s+importImage › create IMS image record\s+ensureImage\s+ServiceUnavailable: /);
    expect(demo.stdout).toMatch(/repaired\s+customizeImage › repair ManifestEtagFault for check resultant manifest\s+repairManifest/);
    expect(demo.stdout).toContain('fault      importImage › create IMS image record, attempt 1: ServiceUnavailable; attempt 2 completed');
    expect(demo.stdout).toContain('fault      customizeImage › check resultant manifest, attempt 1: ManifestEtagFault; repaired (repairManifest); attempt 2 completed');
    expect(demo.stdout).toMatch(/customized IMS image \S+ by CFS session /);

    // The undo the demo prints, so the rollback series moves too.
    const undo = /undo BSS\s+npx imagectl (rollback \S+ --wait)/.exec(demo.stdout)![1].split(' ');
    const rollback = await execa('tsx', ['cli/imagectl.ts', ...undo], { env: stackEnvironment(), reject: false, all: true });
    const rollbackEnded = Date.now();
    expect(rollback.exitCode, rollback.all).toBe(0);
    // The rollback takes about a second, less than the scrapes' interval: its series is seen in the first scrape after it.
    await expect.poll(() => sampler.samples.at(-1)!.at > rollbackEnded, { timeout: 10_000, interval: 200 }).toBe(true);
    await sampler.stop();
    // The first scrape after a moment: a count made in the workflow's last second (the canary's
    // validation, the whole rollback) reaches the endpoint about when the command returns.
    const firstScrapeAfter = (moment: number) => sampler.samples.find(({ at }) => at > moment)!.at;
    const rollbackSeen = firstScrapeAfter(rollbackEnded);
    const demoSeen = firstScrapeAfter(demoEnded);

    // Each series moved in a scrape taken while the demo ran (or the first as it ended), not only in the scrape afterwards.
    const firstMoved = (address: string, sample: string) => sampler.samples.find(({ totals }) => moved(metricsBefore, totals, address, sample) > 0)?.at;
    const notMovedDuring = Object.values(metricCatalogue).flatMap((spec) =>
      endpoints[spec.role]
        .filter((address) => !((firstMoved(address, movingSample(spec)) ?? Infinity) <= (spec.name === metricCatalogue.rollbacks.name ? rollbackSeen : demoSeen)))
        .map((address) => `${spec.name} at ${address}`),
    );
    expect(notMovedDuring).toEqual([]);
    expect(sampler.samples.filter(({ at }) => at < demoEnded).length).toBeGreaterThan(10);

    const metricsAfter = await scrapeAll();
    const notMoved = Object.values(metricCatalogue).flatMap((spec) =>
      endpoints[spec.role].filter((address) => !(moved(metricsBefore, metricsAfter, address, movingSample(spec)) > 0)).map((address) => `${spec.name} at ${address}`),
    );
    expect(notMoved).toEqual([]);
    const sdkSeries = { orchestrator: ['temporal_workflow_completed', 'temporal_activity_execution_latency_count'], 'iscsi-server': ['temporal_activity_execution_latency_count'] };
    for (const [role, samples] of Object.entries(sdkSeries)) {
      for (const address of endpoints[role as keyof typeof endpoints]) for (const sample of samples) expect(moved(metricsBefore, metricsAfter, address, sample), `${sample} at ${address}`).toBeGreaterThan(0);
    }
    // Both faults and the validation's verdicts counted by their labels, not only in total.
    const orchestrator = await fetch(`http://${devStack.orchestratorMetricsAddress}/metrics`).then((r) => r.text());
    expect(orchestrator).toMatch(/^boot_image_attempts_failed\{[^}]*failure_type="ServiceUnavailable"/m);
    expect(orchestrator).toMatch(/^boot_image_repairs\{[^}]*failure_type="ManifestEtagFault"[^}]*outcome="repaired"/m);
    expect(orchestrator).toMatch(/^boot_image_nodes_validated\{[^}]*verdict="passed"/m);

    // The dashboard queries our series, every one of them, and the SDK's, all served by the workers.
    const queried = dashboardSeries('deploy/grafana/boot-image-orchestrator.json');
    const served = new Set([...metricsAfter.values()].flatMap((totals) => [...totals.keys()]));
    expect([...queried].filter((name) => !served.has(name))).toEqual([]);
    expect(Object.values(metricCatalogue).filter((spec) => ![...queried].some((name) => name.startsWith(spec.name)))).toEqual([]);

    // imagectl report finds the lifecycle's validate phase and its report in S3: every node passed.
    const report = await execa('tsx', ['cli/imagectl.ts', 'report', workflowId, '--json'], { env: stackEnvironment(), reject: false });
    expect(report.exitCode, report.stderr).toBe(0);
    expect(JSON.parse(report.stdout)).toMatchObject({ workflowId: `${workflowId}.validate`, groups: { nodes: 4, passed: 4, degraded: 0, failed: 0, byCheck: [], byServer: [] } });
  });
});
