// npm run demo's lifecycle (dev/demo.ts) as a user runs it: every phase, customization included, with
// its two injected faults handled, and the history it prints at the end showing them.
import { execa } from 'execa';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectAttempts } from '../cli/history';
import { stackEnvironment } from '../dev/config';
import { connectClient } from './helpers/temporal';

let client: Client;
beforeAll(async () => {
  client = await connectClient();
});
afterAll(() => client.connection.close());

describe('npm run demo', () => {
  it('runs every phase and prints a history with the failed attempt, the retry that succeeded and the repair', { timeout: 300_000 }, async () => {
    const demo = await execa('tsx', ['dev/demo.ts'], { env: stackEnvironment(), reject: false, all: true });
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

    // imagectl report finds the lifecycle's validate phase and its report in S3: every node passed.
    const report = await execa('tsx', ['cli/imagectl.ts', 'report', workflowId, '--json'], { env: stackEnvironment(), reject: false });
    expect(report.exitCode, report.stderr).toBe(0);
    expect(JSON.parse(report.stdout)).toMatchObject({ workflowId: `${workflowId}.validate`, groups: { nodes: 4, passed: 4, degraded: 0, failed: 0, byCheck: [], byServer: [] } });
  });
});
