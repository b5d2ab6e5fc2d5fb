// validateInitiators' input and its pure planning: the shape updateBootParameters starts it with, server
// names, the identity every node must see, and how failures of many batches add up.
import { MockActivityEnvironment } from '@temporalio/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { InitiatorDriver } from '../../activities/initiator/driver';
import { initiatorActivities, type CheckInitiatorsResult } from '../../activities/initiator/activities';
import { keyedSemaphores } from '../../activities/initiator/limiter';
import { VerdictRecorder } from '../../activities/initiator/verdict';
import { lunIdentity } from '../../lib/lunIdentity';
import { workflowInputSchemas } from '../../lib/specs/registry';
import { ValidateInitiatorsSpec } from '../../lib/specs/validateSpec';
import { expectation, failureMessage, firstFailureLines, luksKeyIdOf, mergeFailures, nodesToCheck, serverTargets } from '../../lib/validation';

const rootfs = { path: 's3://boot-images/abc/rootfs', etag: '0123456789abcdef0123456789abcdef-3' };
const identity = lunIdentity({ linkPath: rootfs.path, linkEtag: rootfs.etag });
const targets = [
  { iqn: 'iqn.2023-06.csm.iscsi:ncn-w001', address: '10.1.0.5', port: 3260 },
  { iqn: 'iqn.2023-06.csm.iscsi:ncn-w002', address: '10.1.0.6' },
];

describe('validateInitiators input', () => {
  it('accepts what updateBootParameters starts it with (its options spread first), and is in the spec registry', () => {
    const options = { initiator: { driver: 'open-iscsi' }, batchSize: 200 };
    const args = { ...options, nodes: ['x3000c0s1b0n0', 'x3000c0s1b0n1'], imageId: undefined, manifestPath: 's3://boot-images/abc/manifest.json', rootfs, iscsi: { targets, lunWwid: identity.wwid, luksKeyRef: 'luks-1' } };
    const spec = ValidateInitiatorsSpec.parse(args);
    expect(spec).toMatchObject({ nodes: ['x3000c0s1b0n0', 'x3000c0s1b0n1'], batchSize: 200, chunkSize: 25, continueAsNewAfterEvents: 10_000, checks: { wrongChap: true, multipath: true } });
    expect(spec.iscsi.targets![1].port).toBe(3260);
    // The registry's schema (what imagectl and callers get) takes the same input, but not the run's own `resume`.
    expect(workflowInputSchemas.validateInitiators.parse(args)).toMatchObject({ batchSize: 200, chunkSize: 25 });
    expect(workflowInputSchemas.validateInitiators.safeParse({ ...args, resume: { nextBatch: 1 } }).success).toBe(false);

    expect(expectation(spec, 4096)).toEqual({ serial: identity.serial, wwid: identity.wwid, sizeBytes: 4096, luks: {} });
    expect(luksKeyIdOf(spec)).toBe('luks-1');
    expect(nodesToCheck(spec)).toEqual([{ node: 'x3000c0s1b0n0' }, { node: 'x3000c0s1b0n1' }]);
  });

  it('names every problem at once; secrets are references only', () => {
    const parsed = ValidateInitiatorsSpec.safeParse({ nodes: 'n[3-1]', rootfs: { path: 'boot-images/x', etag: '' }, iscsi: {}, initiator: { driver: 'libiscsi', iqnPattern: 'iqn.x' }, chap: { user: 'u', password: 'p' } });
    const issues = parsed.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^nodes: .*goes backwards/),
        expect.stringMatching(/^rootfs\.path: /),
        expect.stringMatching(/^rootfs\.etag: /),
        'iscsi.targets: give iscsi.targets: the servers to check',
        'initiator.iqnPattern: the pattern needs {node}',
        expect.stringMatching(/^chap: Unrecognized keys: "user", "password"/),
      ]),
    );
  });

  it('gives libiscsi nodes their IQN from the pattern, and refuses a WWID other than the artifact\'s', () => {
    const spec = ValidateInitiatorsSpec.parse({ nodes: 'nid[001-002]', rootfs, iscsi: { targets, lunWwid: `36001405${'f'.repeat(25)}` }, initiator: { driver: 'libiscsi', iqnPattern: 'iqn.2026-01.site:{node}' } });
    expect(nodesToCheck(spec)).toEqual([
      { node: 'nid001', initiatorIqn: 'iqn.2026-01.site:nid001' },
      { node: 'nid002', initiatorIqn: 'iqn.2026-01.site:nid002' },
    ]);
    expect(() => expectation(spec, 1)).toThrow(/iscsi\.lunWwid 36001405f+ is not the WWID/);
  });
});

describe('validation planning', () => {
  it('names servers by their marshal host, by portal when hosts collide', () => {
    expect(serverTargets([...targets.map((t) => ({ port: 3260, ...t }))]).map((t) => t.server)).toEqual(['ncn-w001', 'ncn-w002']);
    const same = [{ iqn: 'iqn.2003-01.org.linux-iscsi:sn.1', address: 'a', port: 3260 }, { iqn: 'iqn.2003-01.org.linux-iscsi:sn.1', address: 'b', port: 3261 }];
    expect(serverTargets(same).map((t) => t.server)).toEqual(['a:3260', 'b:3261']);
  });

  it('keeps the first failures of the earliest batches, whatever order batches finish in', () => {
    const verdict = (node: string, fail?: string) => {
      const v = new VerdictRecorder(node);
      if (fail) v.fail('discovery', fail, 'ncn-w002');
      else v.pass('discovery', 'ncn-w002');
      return v.finish();
    };
    const batch3 = firstFailureLines([verdict('n7', 'not listed'), verdict('n8')], 2, 3);
    const batch1 = firstFailureLines([verdict('n1', 'x'), verdict('n2', 'y'), verdict('n3', 'z')], 2, 1);
    expect(batch1.map((f) => f.node)).toEqual(['n1', 'n2']);
    const kept = mergeFailures(mergeFailures([], batch3, 2), batch1, 2);
    expect(kept.map((f) => f.node)).toEqual(['n1', 'n2']);
    expect(failureMessage({ failed: 4, firstFailures: kept }, 10, 's3://ims/r/report.json')).toBe(
      '4 of 10 nodes failed validation: n1 on ncn-w002: discovery: x; n2 on ncn-w002: discovery: y; and 2 more (report: s3://ims/r/report.json)',
    );
  });
});

describe('checkInitiators activity', () => {
  it('bounds checks per server across concurrent activities, heartbeats nodes done, and resolves CHAP by reference', async () => {
    const workDir = mkdtempSync(path.join(tmpdir(), 'initiator-unit-'));
    let active = 0;
    let most = 0;
    const seenChap: unknown[] = [];
    const driver: InitiatorDriver = {
      kind: 'libiscsi',
      async checkNode(node, context) {
        seenChap.push(context.chap);
        await context.onServer('s1', async () => {
          most = Math.max(most, ++active);
          await new Promise((resolve) => setTimeout(resolve, 5));
          active--;
        });
        return new VerdictRecorder(node.node).finish();
      },
    };
    const activities = initiatorActivities({
      drivers: { libiscsi: driver },
      secrets: { resolve: async (ref) => `value-of-${ref}` },
      keyStore: { createKey: () => Promise.reject(new Error('unused')), getKey: () => Promise.reject(new Error('unused')) },
      workDir,
      perServerConcurrency: 3,
      nodeConcurrency: 10,
    });
    const input = (prefix: string) => ({
      driver: 'libiscsi' as const,
      nodes: Array.from({ length: 12 }, (_, i) => ({ node: `${prefix}${i}`, initiatorIqn: `iqn.2026-01.t:${prefix}${i}` })),
      targets: [{ server: 's1', iqn: 'iqn.2023-06.csm.iscsi:s1', address: '127.0.0.9', port: 3260 }],
      expected: { serial: identity.serial, wwid: identity.wwid, sizeBytes: 4096 },
      chap: { userRef: 'chap/user', secretRef: 'chap/password' },
    });
    const env = new MockActivityEnvironment();
    const heartbeats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => heartbeats.push(details));
    const [a, b] = (await Promise.all([env.run(activities.checkInitiators, input('a')), new MockActivityEnvironment().run(activities.checkInitiators, input('b'))])) as CheckInitiatorsResult[];
    expect([a.passed, b.passed, a.failed]).toEqual([12, 12, 0]);
    expect(most).toBe(3);
    expect(heartbeats.at(-1)).toEqual({ nodesDone: 12, nodesTotal: 12 });
    expect(seenChap[0]).toEqual({ user: 'value-of-chap/user', password: 'value-of-chap/password' });
    rmSync(workDir, { recursive: true, force: true });
  });

  it('keyed semaphores bound each key on its own', async () => {
    const limit = keyedSemaphores(1);
    const order: string[] = [];
    const task = (key: string, name: string) => limit(key, async () => { order.push(`${name}+`); await new Promise((r) => setTimeout(r, 5)); order.push(`${name}-`); });
    await Promise.all([task('x', 'a'), task('x', 'b'), task('y', 'c')]);
    expect(order.indexOf('b+')).toBeGreaterThan(order.indexOf('a-'));
    expect(order.indexOf('c+')).toBeLessThan(order.indexOf('a-'));
  });
});
