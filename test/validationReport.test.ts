// The pure part of imagectl report: verdicts over servers, failure groups, and the cabinet/chassis grid.
// (test/ui.test.ts runs the command on a real validation; these cover what tgtd cannot produce there:
// node-wide failures, several checks on one node, and xnames mixed with other names.)
import { describe, expect, it } from 'vitest';
import type { CheckFailure, NodeVerdict } from '../lib/nodeChecks';
import { groupFailures, nodeGrid, verdictOf } from '../lib/validationReport';

const servers = ['iscsi1', 'iscsi2'];
const verdict = (node: string, failed: CheckFailure[] = []): NodeVerdict => ({ node, ok: failed.length === 0, passed: [], failed, skipped: [], ms: 1 });

describe('validation report', () => {
  const verdicts = [
    verdict('x1000c0s0b0n0'),
    verdict('x1000c0s1b0n0', [{ check: 'reachable', message: 'ssh: no route to host' }]),
    verdict('x1000c0s2b0n0', [
      { check: 'login', server: 'iscsi2', message: 'Authentication failure' },
      { check: 'identity', server: 'iscsi2', message: 'wrong serial' },
    ]),
    verdict('x1000c0s3b0n0', [
      { check: 'capacity', server: 'iscsi1', message: 'short' },
      { check: 'capacity', server: 'iscsi2', message: 'short' },
    ]),
  ];

  it('calls a node degraded when some servers but not all fail it, failed when all do or the node itself fails', () => {
    expect(verdicts.map((v) => verdictOf(v, servers))).toEqual(['passed', 'failed', 'degraded', 'failed']);
  });

  it('counts each node once per group, with the breakdown by server (or check), largest group first', () => {
    const groups = groupFailures(verdicts, servers, 1);
    expect(groups).toMatchObject({ nodes: 4, passed: 1, degraded: 1, failed: 2 });
    expect(groups.byCheck).toEqual([
      { name: 'capacity', nodes: 1, firstNodes: ['x1000c0s3b0n0'], breakdown: { iscsi1: 1, iscsi2: 1 }, example: 'iscsi1: short' },
      { name: 'identity', nodes: 1, firstNodes: ['x1000c0s2b0n0'], breakdown: { iscsi2: 1 }, example: 'iscsi2: wrong serial' },
      { name: 'login', nodes: 1, firstNodes: ['x1000c0s2b0n0'], breakdown: { iscsi2: 1 }, example: 'iscsi2: Authentication failure' },
      { name: 'reachable', nodes: 1, firstNodes: ['x1000c0s1b0n0'], breakdown: { '(node)': 1 }, example: '(node): ssh: no route to host' },
    ]);
    expect(groups.byServer).toEqual([
      { name: 'iscsi2', nodes: 2, firstNodes: ['x1000c0s2b0n0'], breakdown: { login: 1, identity: 1, capacity: 1 }, example: 'login: Authentication failure' },
      { name: '(node)', nodes: 1, firstNodes: ['x1000c0s1b0n0'], breakdown: { reachable: 1 }, example: 'reachable: ssh: no route to host' },
      { name: 'iscsi1', nodes: 1, firstNodes: ['x1000c0s3b0n0'], breakdown: { capacity: 1 }, example: 'capacity: short' },
    ]);
  });

  it('lays xnames out by cabinet/chassis in numeric order, other names after them in rows of the given width', () => {
    const rows = nodeGrid(['nid003', 'x3000c1s10b0n0', 'x3000c1s2b1n0', 'x3000c1s2b0n1', 'x1000c0s1b0n0', 'nid001', 'x3000c0s0b0n0', 'nid002'], 2);
    expect(rows.map((r) => [r.label, r.cells.map((c) => c.short)])).toEqual([
      ['x1000c0', ['s1b0n0']],
      ['x3000c0', ['s0b0n0']],
      ['x3000c1', ['s2b0n1', 's2b1n0', 's10b0n0']],
      ['nid003…nid001', ['nid003', 'nid001']],
      ['nid002', ['nid002']],
    ]);
  });
});
