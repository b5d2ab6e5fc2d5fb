// Background processes of the dev stack: started detached, remembered by PID file, stopped by PID.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { stateDir } from './config';

export const logDir = path.join(stateDir, 'logs');
export const pidDir = path.join(stateDir, 'pids');

export interface ProcessRecord {
  pid: number;
  argv: string[];
  /** Fingerprint of the code the process runs; a different one means it must be restarted. */
  codeHash?: string;
  /** The identity a worker process polls Temporal with (WORKER_IDENTITY). */
  identity?: string;
  /** The program the PID runs when argv[0] execs another (setpriv postgres ...). */
  program?: string;
}

const pidFile = (name: string) => path.join(pidDir, `${name}.json`);
export const logFile = (name: string) => path.join(logDir, `${name}.log`);

export function readRecord(name: string): ProcessRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(pidFile(name), 'utf8')) as ProcessRecord;
  } catch {
    return undefined;
  }
}

/** True when the PID is alive and still runs the program we started (PIDs get reused). */
export function isRunning(record: ProcessRecord | undefined): record is ProcessRecord {
  if (!record) return false;
  try {
    const cmdline = fs.readFileSync(`/proc/${record.pid}/cmdline`, 'utf8').split('\0');
    return cmdline.some((arg) => path.basename(arg) === path.basename(record.program ?? record.argv[0]));
  } catch {
    return false;
  }
}

export function startProcess(
  name: string,
  argv: string[],
  options: { env?: Record<string, string>; codeHash?: string; identity?: string; program?: string } = {},
): ProcessRecord {
  fs.mkdirSync(logDir, { recursive: true });
  fs.mkdirSync(pidDir, { recursive: true });
  const log = fs.openSync(logFile(name), 'a');
  const child = spawn(argv[0], argv.slice(1), {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, ...options.env, ...(options.identity ? { WORKER_IDENTITY: options.identity } : {}) },
  });
  fs.closeSync(log);
  if (child.pid === undefined) throw new Error(`could not start ${name}: ${argv.join(' ')}`);
  child.unref();
  const record: ProcessRecord = { pid: child.pid, argv, codeHash: options.codeHash, identity: options.identity, program: options.program };
  fs.writeFileSync(pidFile(name), JSON.stringify(record));
  return record;
}

export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!fs.existsSync(`/proc/${pid}`) || isZombie(pid)) return true;
    await sleep(100);
  }
  return false;
}

function isZombie(pid: number): boolean {
  try {
    return /^\S+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** SIGTERM (or a custom polite stop), then SIGKILL if the process is still there. */
export async function stopProcess(name: string, politeStop?: () => Promise<void>): Promise<boolean> {
  const record = readRecord(name);
  if (!isRunning(record)) {
    fs.rmSync(pidFile(name), { force: true });
    return false;
  }
  if (politeStop) await politeStop().catch(() => undefined);
  else signal(record.pid, 'SIGTERM');
  if (!(await waitForExit(record.pid, 15_000))) {
    signal(record.pid, 'SIGKILL');
    await waitForExit(record.pid, 5_000);
  }
  fs.rmSync(pidFile(name), { force: true });
  return true;
}

function signal(pid: number, sig: NodeJS.Signals) {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  options: { timeoutMs: number; logName?: string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(250);
  }
  const hint = options.logName ? ` (see ${logFile(options.logName)})` : '';
  throw new Error(`${what} did not become healthy within ${options.timeoutMs / 1000}s${hint}`);
}
