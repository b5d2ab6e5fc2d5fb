// Terminal output: aligned tables, progress bars, durations.
import type { AttemptRow, Progress } from './history';

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function duration(ms: number | null): string {
  if (ms === null) return '…';
  if (ms < 1000) return `${ms}ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

export function progressBar(done: number, total: number, width = 30): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`;
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

const progressCounts: Record<Progress['unit'], (p: Progress) => string> = {
  bytes: (p) => `${bytes(p.done)} / ${bytes(p.total)}`,
  nodes: (p) => `${p.done} / ${p.total} nodes${p.failed ? `, ${p.failed} failed` : ''}`,
  steps: (p) => `step ${p.done} / ${p.total}${p.step ? `: ${p.step}` : ''}`,
};

export const progressText = (p: Progress) => `${progressBar(p.done, p.total, 20)} ${progressCounts[p.unit](p)}`;

export function historyTable(rows: AttemptRow[]): string {
  // The progress column only when a running step reports some.
  const withProgress = rows.some((r) => r.progress);
  return table(
    ['STARTED', 'DURATION', 'ATTEMPT', 'OUTCOME', 'STEP', 'ACTIVITY', ...(withProgress ? ['PROGRESS'] : []), 'ERROR'],
    rows.map((r) => [
      r.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      duration(r.durationMs),
      String(r.attempt),
      r.repair && r.outcome === 'completed' ? 'repaired' : r.outcome,
      r.label.replace(/ \(attempt \d+\)$/, ''),
      r.kind === 'child-workflow' ? `child:${r.type}` : r.type,
      ...(withProgress ? [r.progress ? progressText(r.progress) : ''] : []),
      r.errorType ? `${r.errorType}: ${r.errorMessage ?? ''}` : r.lastFailure ? `last failure: ${r.lastFailure}` : '',
    ]),
  );
}
