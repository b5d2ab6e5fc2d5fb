// What the benchmarks share: wall time, the CPU seconds of finished child processes, medians and the
// BENCH line every benchmark ends with.
import { execa, type Options } from 'execa';
import fs from 'node:fs';
import { availableParallelism } from 'node:os';

export async function seconds(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return (performance.now() - start) / 1000;
}

/** CPU seconds (user + system) of this process's waited-for children so far (/proc/self/stat cutime + cstime). */
export function childCpuSeconds(): number {
  const fields = fs.readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ');
  // After the command name, field 3 is the state; cutime and cstime are fields 16 and 17 of the whole line.
  const ticks = Number(fields[16 - 3]) + Number(fields[17 - 3]);
  return ticks / clockTicksPerSecond;
}

const clockTicksPerSecond = Number((await execa('getconf', ['CLK_TCK'], { reject: false })).stdout) || 100;

/** A child command's wall and CPU seconds. */
export async function timedCommand(file: string, args: string[], options: Options = {}): Promise<{ seconds: number; cpuSeconds: number }> {
  const cpuBefore = childCpuSeconds();
  const wall = await seconds(() => execa(file, args, options));
  return { seconds: wall, cpuSeconds: childCpuSeconds() - cpuBefore };
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** `BENCH <name> key=value ...`, with the machine's core count; a value missing (an anchor that failed) prints as `na`. */
export function benchLine(name: string, values: Record<string, string | number | undefined>): string {
  const fields = Object.entries({ ...values, cores: availableParallelism() }).map(([key, value]) => `${key}=${value === undefined || (typeof value === 'number' && !Number.isFinite(value)) ? 'na' : typeof value === 'number' ? Number(value.toFixed(3)) : value}`);
  return `BENCH ${name} ${fields.join(' ')}`;
}

/** Runs an anchor; one that fails is reported and skipped, never the end of the benchmark. */
export async function anchor<T>(name: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    console.warn(`anchor ${name} failed, left out: ${((error as Error).message ?? String(error)).split('\n').slice(0, 3).join(' | ')}`);
    return undefined;
  }
}
