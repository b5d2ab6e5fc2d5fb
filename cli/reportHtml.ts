// imagectl report --html: one self-contained page (no script, no external resource): the summary, every
// node as a cell of a grid by cabinet/chassis coloured by its verdict (the failing checks on hover), and
// the failure groups.
import { nodeGrid, verdictOf, type FailureGroup, type Verdict } from '../lib/validationReport';
import type { NodeVerdict } from '../lib/nodeChecks';
import type { ValidationReport } from './report';

export const verdictColours: Record<Verdict, string> = { passed: '#2e7d32', degraded: '#f9a825', failed: '#c62828' };

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The hover text: the node, its verdict, and each failure with its server and the tool's message. */
export function cellTitle(verdict: NodeVerdict, outcome: Verdict): string {
  if (outcome === 'passed') return `${verdict.node}: passed (${verdict.passed.length} checks)`;
  return [`${verdict.node}: ${outcome}`, ...verdict.failed.map((f) => `${f.check}${f.server ? ` on ${f.server}` : ''}: ${f.message}`)].join('\n');
}

function groupTable(title: string, name: string, groups: FailureGroup[]): string {
  if (!groups.length) return '';
  const rows = groups
    .map((g) => `<tr><td>${escape(g.name)}</td><td class="n">${g.nodes}</td><td>${escape(Object.entries(g.breakdown).map(([k, v]) => `${k} ${v}`).join(', '))}</td><td>${escape(g.firstNodes.join(', '))}</td><td>${escape(g.example)}</td></tr>`)
    .join('\n');
  return `<h2>${escape(title)}</h2>\n<table><tr><th>${name}</th><th>nodes</th><th>breakdown</th><th>first nodes</th><th>first failure</th></tr>\n${rows}\n</table>`;
}

export function reportHtml(report: ValidationReport): string {
  const verdicts = new Map(report.verdicts.map((v) => [v.node, v]));
  const grid = nodeGrid(report.verdicts.map((v) => v.node))
    .map((row) => {
      const cells = row.cells
        .map(({ node, short }) => {
          const verdict = verdicts.get(node)!;
          const outcome = verdictOf(verdict, report.servers);
          return `<div class="cell ${outcome}" data-node="${escape(node)}" data-verdict="${outcome}" title="${escape(cellTitle(verdict, outcome))}">${escape(short)}</div>`;
        })
        .join('');
      return `<div class="row"><div class="label">${escape(row.label)}</div>${cells}</div>`;
    })
    .join('\n');
  const { groups } = report;
  const legend = (Object.keys(verdictColours) as Verdict[]).map((v) => `<span class="cell ${v}"></span> ${v} ${groups[v]}`).join(' &nbsp; ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>validation ${escape(report.workflowId)}: ${groups.failed + groups.degraded} of ${groups.nodes} nodes with failures</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
.row { display: flex; align-items: center; gap: 3px; margin: 3px 0; }
.label { width: 14em; font-family: monospace; }
.cell { display: inline-block; min-width: 4.5em; padding: 4px 2px; text-align: center; color: #fff; font: 11px monospace; border-radius: 3px; cursor: default; }
.passed { background: ${verdictColours.passed}; }
.degraded { background: ${verdictColours.degraded}; color: #222; }
.failed { background: ${verdictColours.failed}; }
span.cell { min-width: 1.2em; height: 1em; padding: 0; vertical-align: middle; }
table { border-collapse: collapse; margin-bottom: 1em; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
td.n { text-align: right; }
</style></head>
<body>
<h1>Validation ${escape(report.workflowId)}</h1>
<p>${report.imageId ? `image ${escape(report.imageId)}, ` : ''}${escape(report.rootfs.path)} (etag ${escape(report.rootfs.etag)}); servers ${escape(report.servers.join(', '))}; ${escape(report.startedAt)} – ${escape(report.finishedAt)}</p>
<p>${groups.nodes} nodes: ${legend} <small>(degraded: failed on some servers only)</small></p>
<div class="grid">
${grid}
</div>
${groupTable('Failures by check', 'check', groups.byCheck)}
${groupTable('Failures by iSCSI server', 'server', groups.byServer)}
<p><small>report: ${escape(report.report)}</small></p>
</body></html>
`;
}
