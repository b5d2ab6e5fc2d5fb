// What `imagectl report` makes of a validation's per-node verdicts: each node's verdict over all servers,
// the failures grouped by check and by iSCSI server, and the nodes laid out as a grid by cabinet/chassis.
import type { NodeVerdict } from './nodeChecks';

/** passed: every check passed; degraded: failed on some servers but not all (another path remains); failed. */
export type Verdict = 'passed' | 'degraded' | 'failed';

export interface FailureGroup {
  /** The check, or the server (`(node)` for checks of the node as a whole). */
  name: string;
  /** Nodes in the group (a node failing it on two servers counts once). */
  nodes: number;
  firstNodes: string[];
  /** By check within a server's group; by server within a check's group. */
  breakdown: Record<string, number>;
  /** The first failure's message, as the tool said it (`server: message` in a check's group). */
  example: string;
}

export interface ReportGroups {
  nodes: number;
  passed: number;
  degraded: number;
  failed: number;
  byCheck: FailureGroup[];
  byServer: FailureGroup[];
}

export const nodeWide = '(node)';

export function verdictOf(verdict: NodeVerdict, servers: string[]): Verdict {
  if (verdict.ok) return 'passed';
  const failedServers = new Set(verdict.failed.map((f) => f.server ?? nodeWide));
  if (failedServers.has(nodeWide)) return 'failed';
  return servers.every((server) => failedServers.has(server)) ? 'failed' : 'degraded';
}

/** Groups, largest first, each with its first `firstNodes` nodes in report order. */
export function groupFailures(verdicts: NodeVerdict[], servers: string[], firstNodes = 5): ReportGroups {
  const byCheck = new Map<string, { nodes: string[]; breakdown: Record<string, number>; example: string }>();
  const byServer = new Map<string, { nodes: string[]; breakdown: Record<string, number>; example: string }>();
  const add = (groups: typeof byCheck, name: string, node: string, within: string, example: string) => {
    const group = groups.get(name) ?? { nodes: [], breakdown: {}, example };
    groups.set(name, group);
    if (group.nodes[group.nodes.length - 1] !== node) group.nodes.push(node);
    group.breakdown[within] = (group.breakdown[within] ?? 0) + 1;
  };
  const counts = { passed: 0, degraded: 0, failed: 0 };
  for (const verdict of verdicts) {
    counts[verdictOf(verdict, servers)]++;
    // One entry per node and (check, server) pair, so breakdowns count nodes too.
    const pairs = new Map<string, { check: string; server: string; message: string }>();
    for (const f of verdict.failed) {
      const key = `${f.check}|${f.server ?? nodeWide}`;
      if (!pairs.has(key)) pairs.set(key, { check: f.check, server: f.server ?? nodeWide, message: f.message });
    }
    for (const { check, server, message } of pairs.values()) {
      add(byCheck, check, verdict.node, server, `${server}: ${message}`);
      add(byServer, server, verdict.node, check, `${check}: ${message}`);
    }
  }
  const listed = (groups: typeof byCheck): FailureGroup[] =>
    [...groups.entries()]
      .map(([name, group]) => ({ name, nodes: group.nodes.length, firstNodes: group.nodes.slice(0, firstNodes), breakdown: group.breakdown, example: group.example }))
      .sort((a, b) => b.nodes - a.nodes || a.name.localeCompare(b.name));
  return { nodes: verdicts.length, ...counts, byCheck: listed(byCheck), byServer: listed(byServer) };
}

export interface GridRow {
  /** `x3000c0` (cabinet and chassis) for xnames; the row's first and last node otherwise. */
  label: string;
  /** Node names, in slot/blade/node order for xnames, in report order otherwise. */
  cells: { node: string; short: string }[];
}

/** Compute node xnames: cabinet x, chassis c, slot s, BMC b, node n. */
const xnamePattern = /^(x(\d+)c(\d+))s(\d+)b(\d+)n(\d+)$/;

/** Rows of the grid: one per cabinet/chassis for xnames, then the other nodes in rows of `width`. */
export function nodeGrid(nodes: string[], width = 16): GridRow[] {
  const chassis = new Map<string, { order: number[]; cells: { node: string; short: string; order: number[] }[] }>();
  const others: string[] = [];
  for (const node of nodes) {
    const match = xnamePattern.exec(node);
    if (!match) {
      others.push(node);
      continue;
    }
    const [, label, cabinet, chassisNumber, slot, bmc, nodeNumber] = match;
    const row = chassis.get(label) ?? { order: [Number(cabinet), Number(chassisNumber)], cells: [] };
    chassis.set(label, row);
    row.cells.push({ node, short: node.slice(label.length), order: [Number(slot), Number(bmc), Number(nodeNumber)] });
  }
  const byOrder = (a: number[], b: number[]) => {
    const i = a.findIndex((value, index) => value !== b[index]);
    return i === -1 ? 0 : a[i] - b[i];
  };
  const rows: GridRow[] = [...chassis.entries()]
    .sort(([, a], [, b]) => byOrder(a.order, b.order))
    .map(([label, row]) => ({ label, cells: row.cells.sort((a, b) => byOrder(a.order, b.order)).map(({ node, short }) => ({ node, short })) }));
  for (let start = 0; start < others.length; start += width) {
    const slice = others.slice(start, start + width);
    rows.push({ label: slice.length > 1 ? `${slice[0]}…${slice[slice.length - 1]}` : slice[0], cells: slice.map((node) => ({ node, short: node })) });
  }
  return rows;
}
