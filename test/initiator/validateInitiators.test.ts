// validateInitiators against the dev stack's two tgtd servers, with libiscsi initiators (one IQN per
// simulated node), real S3 for the artifacts and the report, and real LUKS containers.
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ValidationSummary } from '../../workflows/validateInitiators';
import { validateInitiators } from '../../workflows/validateInitiators';
import { statusQuery, type WorkflowStatus } from '../../workflows/support/status';
import { lunIdentity } from '../../lib/lunIdentity';
import { stackEnvironment } from '../../dev/config';
import { uniqueId } from '../helpers/temporal';
import { createTestBed, iqnPattern, type Artifact, type TestBed } from './helpers';

let bed: TestBed;
let plain: Artifact;
let servers: ReturnType<TestBed['server']>[];
const allowed = ['nid001', 'nid002', 'nid003', 'nid004', 'nid005', 'nid006', 'nid007', 'nid008'];

beforeAll(async () => {
  bed = await createTestBed();
  servers = [bed.server(0), bed.server(1)];
  plain = await bed.upload(bed.sample.rootfs);
  await bed.exportOn(servers, plain, { nodes: allowed });
});
afterAll(() => bed?.cleanUp());

const spec = (artifact: Artifact, extra: Record<string, unknown> = {}, targets = servers) => ({
  nodes: 'nid[001-003]',
  rootfs: { path: artifact.path, etag: artifact.etag },
  iscsi: { targets: targets.map((s) => s.target(artifact)) },
  initiator: { driver: 'libiscsi', iqnPattern },
  chap: { userRef: 'chap/user', secretRef: 'chap/password' },
  ...extra,
});

interface Outcome {
  summary?: ValidationSummary;
  failure?: ApplicationFailure;
  /** The status query's answer; absent when the input was refused before the workflow set it up. */
  status?: WorkflowStatus;
  firstRunStatus: string;
  workflowId: string;
  /** The workflow's event history (its last run) as JSON, payloads decoded. */
  history: string;
}

async function validate(input: object): Promise<Outcome> {
  return bed.worker(async ({ client, taskQueue }) => {
    const workflowId = uniqueId('validate');
    const handle = await client.workflow.start(validateInitiators, { taskQueue, workflowId, args: [input] });
    const outcome = await handle.result().then(
      (summary) => ({ summary }),
      (error: unknown) => {
        expect(error).toBeInstanceOf(WorkflowFailedError);
        return { failure: (error as WorkflowFailedError).cause as ApplicationFailure };
      },
    );
    const status = await handle.query(statusQuery).catch(() => undefined);
    const firstRun = await client.workflow.getHandle(workflowId, handle.firstExecutionRunId).describe();
    const history = JSON.stringify(await handle.fetchHistory()).replace(/"data":"([A-Za-z0-9+/=]+)"/g, (_, data: string) => JSON.stringify(Buffer.from(data, 'base64').toString('utf8')));
    return { ...outcome, status, firstRunStatus: firstRun.status.name, workflowId, history };
  });
}

const summaryOf = (failure: ApplicationFailure) => failure.details?.[0] as ValidationSummary;

describe('validateInitiators (libiscsi, two tgtd servers)', () => {
  it('passes every allowed node on both servers, with CHAP enforced and writes refused, and writes the per-node report to S3', async () => {
    const { summary, workflowId } = await validate(spec(plain));
    expect(summary).toMatchObject({ nodes: 3, passed: 3, failed: 0, firstFailures: [], runs: 1, report: `s3://ims/validation-reports/${workflowId}/report.json` });
    expect(summary!.expected.sizeBytes).toBe(plain.size);

    const report = await bed.getJson(summary!.report);
    expect(report).toMatchObject({ workflowId, nodes: 3, passed: 3, failed: 0, driver: 'libiscsi', rootfs: { path: plain.path, etag: plain.etag } });
    expect(report.parts).toHaveLength(1);
    const part = await bed.getJson(report.parts[0]);
    expect(part.nodes.map((v: { node: string; initiatorIqn: string }) => [v.node, v.initiatorIqn])).toEqual(['nid001', 'nid002', 'nid003'].map((n) => [n, iqnPattern.replace('{node}', n)]));
    for (const server of servers) {
      for (const check of ['discovery', 'login', 'chap-enforced', 'identity', 'capacity', 'read', 'write-refused']) {
        expect(part.nodes[0].passed).toContain(`${server.name}:${check}`);
      }
    }
    expect(part.nodes[0].skipped).toEqual([{ check: 'multipath', reason: expect.stringMatching(/no multipath layer/) }]);
  });

  it('fails a node outside the ACL on every server, naming it and the check, after writing the report', async () => {
    const { failure, status } = await validate(spec(plain, { nodes: 'nid[001-002],nid099' }));
    expect(failure!.type).toBe('ValidationFailed');
    expect(failure!.nonRetryable).toBe(true);
    expect(failure!.message).toMatch(/^1 of 3 nodes failed validation: nid099 on vt\w+-iscsi\d: discovery: 127\.0\.0\.\d:3260 does not list iqn\.2026-11\.test\.validate\.[0-9a-f]{15}:vt/);
    const summary = summaryOf(failure!);
    expect(summary).toMatchObject({ nodes: 3, passed: 2, failed: 1 });
    const report = await bed.getJson(summary.report);
    const part = await bed.getJson(report.parts[0]);
    const outsider = part.nodes.find((v: { node: string }) => v.node === 'nid099');
    expect(outsider.failed.map((f: { server: string; check: string }) => [f.server, f.check]).sort()).toEqual(servers.map((s) => [s.name, 'discovery']).sort());
    expect(status!.step).toBe('failed');
    expect(status!.details.progress).toMatchObject({ nodesDone: 3, nodesTotal: 3, passed: 2, failed: 1 });
  });

  it('fails every node with a wrong CHAP secret with the target\'s own reason, and never shows a secret', async () => {
    const { failure, history } = await validate(spec(plain, { nodes: 'nid001', chap: { userRef: 'chap/user', secretRef: 'chap/wrong-password' } }));
    expect(failure!.type).toBe('ValidationFailed');
    expect(failure!.message).toMatch(/nid001 on vt\w+-iscsi\d: login: .*Authentication failure/);
    expect(history).not.toContain(bed.chap.password);
    expect(history).toContain('chap/wrong-password');
  });

  it('fails the CHAP check where a target lets a wrong secret in (an export without CHAP)', async () => {
    const open = [bed.server(0, 'open'), bed.server(1, 'open')];
    const artifact = await bed.upload(bed.sample.rootfs);
    await bed.exportOn(open, artifact, { nodes: allowed, withoutChap: true });
    const { failure } = await validate(spec(artifact, { nodes: 'nid00[1-2]' }, open));
    const summary = summaryOf(failure!);
    expect(summary).toMatchObject({ nodes: 2, passed: 0, failed: 2 });
    const part = await bed.getJson((await bed.getJson(summary.report)).parts[0]);
    for (const verdict of part.nodes) {
      expect(verdict.failed).toEqual(open.map((s) => ({ check: 'chap-enforced', server: s.name, message: 'the target accepted a login with a wrong CHAP secret' })));
      expect(verdict.passed).toContain(`${open[0].name}:identity`);
    }
  });

  it('fails only the server whose target was removed', async () => {
    const onlyHere = [bed.server(0, 'x'), bed.server(1, 'x')];
    const artifact = await bed.upload(bed.sample.rootfs);
    const [, removed] = await bed.exportOn(onlyHere, artifact, { nodes: allowed });
    await onlyHere[1].driver.removeExport({ identity: lunIdentity({ linkPath: artifact.path, linkEtag: artifact.etag }) });
    expect(removed.created).toBe(true);
    const { failure } = await validate(spec(artifact, { nodes: 'nid00[1-2]' }, onlyHere));
    const summary = summaryOf(failure!);
    expect(summary).toMatchObject({ nodes: 2, failed: 2 });
    expect(summary.firstFailures.map((f) => [f.node, f.server, f.check])).toEqual([
      ['nid001', onlyHere[1].name, 'discovery'],
      ['nid002', onlyHere[1].name, 'discovery'],
    ]);
    const part = await bed.getJson((await bed.getJson(summary.report)).parts[0]);
    expect(part.nodes[0].passed).toContain(`${onlyHere[0].name}:identity`);
  });

  it('fails the capacity check on a truncated export, on both servers', async () => {
    const artifact = await bed.upload(bed.sample.rootfs);
    await bed.exportOn(servers, artifact, { nodes: allowed, backingFile: await bed.truncatedCopy(artifact.file, 4096) });
    const { failure } = await validate(spec(artifact, { nodes: 'nid001', checks: { wrongChap: false } }));
    const part = await bed.getJson((await bed.getJson(summaryOf(failure!).report)).parts[0]);
    expect(part.nodes[0].failed).toEqual(
      servers.map((s) => ({ check: 'capacity', server: s.name, message: expect.stringMatching(new RegExp(`has ${artifact.size - 4096} bytes; the exported artifact has ${artifact.size}`)) })),
    );
  });

  it('checks a LUKS1 container: header UUID, the key on the header read over iSCSI, and decrypted sectors', async () => {
    const container = await bed.luksContainer(1);
    const artifact = await bed.upload(container.file);
    await bed.exportOn(servers, artifact, { nodes: allowed });
    const ok = await validate(spec(artifact, { luks: { uuid: container.uuid, keyId: container.keyId } }));
    expect(ok.summary).toMatchObject({ passed: 3, failed: 0, skipped: [{ check: 'multipath' }] });
    const part = await bed.getJson((await bed.getJson(ok.summary!.report)).parts[0]);
    for (const check of ['luks-header', 'luks-key', 'decrypt-sample']) expect(part.nodes[2].passed).toContain(`${servers[1].name}:${check}`);

    const wrongUuid = '00000000-0000-4000-8000-000000000000';
    const bad = await validate(spec(artifact, { nodes: 'nid001', luks: { uuid: wrongUuid, keyId: container.keyId } }));
    expect(bad.failure!.message).toContain(`luks-header: LUKS1 header UUID ${container.uuid}, expected ${wrongUuid}`);

    const otherKey = await bed.keyStore.createKey();
    const wrongKey = await validate(spec(artifact, { nodes: 'nid001', iscsi: { targets: servers.map((s) => s.target(artifact)), luksKeyRef: otherKey.keyId } }));
    expect(wrongKey.failure!.message).toContain(`luks-key: key ${otherKey.keyId} opens no key slot of the header read from the LUN`);
  });

  it('checks a LUKS2 container (key on the header read from the LUN; decryption skipped, with the reason)', async () => {
    const container = await bed.luksContainer(2);
    const artifact = await bed.upload(container.file);
    await bed.exportOn(servers, artifact, { nodes: allowed });
    const { summary } = await validate(spec(artifact, { nodes: 'nid001', luks: { uuid: container.uuid }, iscsi: { targets: servers.map((s) => s.target(artifact)), luksKeyRef: container.keyId } }));
    expect(summary).toMatchObject({ passed: 1, failed: 0 });
    expect(summary!.skipped).toContainEqual({ check: 'decrypt-sample', reason: expect.stringMatching(/LUKS1 only/) });
    const part = await bed.getJson((await bed.getJson(summary!.report)).parts[0]);
    expect(part.nodes[0].passed).toEqual(expect.arrayContaining(servers.flatMap((s) => [`${s.name}:luks-header`, `${s.name}:luks-key`])));
  });

  it('continues as new before its history limit, carrying the counts and the first failures across runs', async () => {
    const nodes = 'nid099,nid[001-008]';
    const { failure, firstRunStatus } = await validate(spec(plain, { nodes, batchSize: 1, batchesInFlight: 2, continueAsNewAfterEvents: 20, checks: { wrongChap: false } }));
    const summary = summaryOf(failure!);
    expect(summary).toMatchObject({ nodes: 9, passed: 8, failed: 1 });
    expect(summary.runs).toBeGreaterThan(2);
    expect(summary.firstFailures.map((f) => f.node)).toEqual(['nid099']);
    expect(firstRunStatus).toBe('CONTINUED_AS_NEW');
    const report = await bed.getJson(summary.report);
    expect(report.parts).toHaveLength(9);
    const parts = await Promise.all(report.parts.map((url: string) => bed.getJson(url)));
    expect(parts.flatMap((p) => p.nodes.map((v: { node: string }) => v.node))).toEqual(['nid099', ...allowed]);
  });

  it('shows in imagectl watch the nodes checked as a progress bar, with the failures, until it ends', async () => {
    await bed.worker(async ({ client, taskQueue }) => {
      const workflowId = uniqueId('validate-watch');
      const input = spec(plain, { nodes: 'nid099,nid[001-004]', batchSize: 1, batchesInFlight: 1, checks: { wrongChap: false } });
      const handle = await client.workflow.start(validateInitiators, { taskQueue, workflowId, args: [input] });
      const watch = await execa('tsx', ['cli/imagectl.ts', 'watch', workflowId, '--interval', '0.2'], { env: stackEnvironment(), reject: false });
      await handle.result().catch(() => undefined);
      expect(watch.exitCode, watch.stderr).toBe(1);
      const bars = [...watch.stdout.matchAll(/^ {2}validate +\[[#.]{20}\] +(\d+)% (\d) \/ 5 nodes(?:, (\d) failed)?$/gm)].map((m) => ({ percent: Number(m[1]), done: Number(m[2]), failed: Number(m[3] ?? 0) }));
      // A screen while it ran, then the last one once it failed: every node checked, nid099 failed.
      expect(bars.length, watch.stdout).toBeGreaterThan(1);
      expect(bars[0].done).toBeLessThan(5);
      expect(bars.at(-1)).toEqual({ percent: 100, done: 5, failed: 1 });
      expect(bars.map((b) => b.done)).toEqual(bars.map((b) => b.done).sort((a, b) => a - b));
      expect(watch.stdout).toMatch(new RegExp(`${workflowId} FAILED \\(ValidationFailed\\): 1 of 5 nodes failed validation: nid099`));
    });
  });

  it('refuses input without targets or with a WWID that is not the artifact\'s, before checking anything', async () => {
    const none = await validate(spec(plain, { iscsi: {} }));
    expect(none.failure!.type).toBe('InvalidInput');
    expect(none.failure!.message).toMatch(/iscsi\.targets: give iscsi\.targets/);
    const wrong = await validate(spec(plain, { iscsi: { targets: servers.map((s) => s.target(plain)), lunWwid: '36001405aaaaaaaaaaaaaaaaaaaaaaaaa' } }));
    expect(wrong.failure!.type).toBe('InvalidInput');
    expect(wrong.failure!.message).toMatch(/is not the WWID 36001405/);
  });
});
