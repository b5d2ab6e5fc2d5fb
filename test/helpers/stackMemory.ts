// The dev stack's memory while a test runs: every few seconds, the resident set of each of the stack's
// processes (its PID file) with all its descendants (a worker's cryptsetup and iscsi tools, tgtd's
// children), from /proc. Keeps each process's peak and the peak of their sum.
import fs from 'node:fs';
import path from 'node:path';
import { pidDir, readRecord } from '../../dev/processes';

export interface MemoryPeaks {
  /** Peak resident MiB of each stack process with its descendants. */
  byProcess: Record<string, number>;
  /** Peak of the whole stack's resident MiB, summed at one sample. */
  total: number;
  samples: number;
}

function childrenByParent(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name is in parentheses and may hold spaces: the parent PID is the second field after it.
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // the process ended between the listing and the read
    }
  }
  return children;
}

function residentKiB(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

function treeKiB(pid: number, children: Map<number, number[]>): number {
  return residentKiB(pid) + (children.get(pid) ?? []).reduce((sum, child) => sum + treeKiB(child, children), 0);
}

function sampleOnce(): Record<string, number> {
  const children = childrenByParent();
  const names = fs.readdirSync(pidDir).filter((file) => file.endsWith('.json')).map((file) => path.basename(file, '.json'));
  return Object.fromEntries(names.map((name) => [name, treeKiB(readRecord(name)?.pid ?? 0, children) / 1024]).filter(([, mib]) => (mib as number) > 0));
}

/** Samples until `stop()`, which returns the peaks. */
export function sampleStackMemory(intervalMs = 2000): { stop(): MemoryPeaks } {
  const peaks: MemoryPeaks = { byProcess: {}, total: 0, samples: 0 };
  const sample = () => {
    const now = sampleOnce();
    for (const [name, mib] of Object.entries(now)) peaks.byProcess[name] = Math.max(peaks.byProcess[name] ?? 0, mib);
    peaks.total = Math.max(peaks.total, Object.values(now).reduce((sum, mib) => sum + mib, 0));
    peaks.samples++;
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peaks;
    },
  };
}
