// dev/stack.ts up|down|status: the embedded dev stack, idempotent, health-checked, stopped by PID.
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { devStack, stateDir } from './config';
import { isRunning, logFile, pidDir, readRecord, startProcess, stopProcess, waitUntil } from './processes';
import { services, stackProfile, tcpOpen, type StackProfile, type Service } from './services';

/** The profile (and Temporal layout) the running stack was started with: one runs at a time. */
const profileFile = path.join(stateDir, 'profile');
const runningLayout = () => (fs.existsSync(profileFile) ? fs.readFileSync(profileFile, 'utf8').trim() : 'dev');
const runningProfile = (): StackProfile => runningLayout().split(' ')[0] as StackProfile;
const requestedLayout = (profile: StackProfile) =>
  profile === 'cluster' && process.env.DEV_STACK_CLUSTER_PROCESSES === 'separate' ? 'cluster separate' : profile;

async function up(): Promise<void> {
  const profile = stackProfile();
  if (runningLayout() !== requestedLayout(profile)) {
    console.log(`switching the stack from "${runningLayout()}" to "${requestedLayout(profile)}"`);
    await down();
  }
  fs.writeFileSync(profileFile, requestedLayout(profile));
  for (const service of services(profile)) await ensureUp(service);
  console.log(`dev stack ready: Temporal ${devStack.temporal.address} (UI ${devStack.temporal.uiUrl}), S3 ${devStack.s3.endpoint} (${devStack.s3.backend}; RGW ${devStack.s3.endpoints.rgw}, SeaweedFS ${devStack.s3.endpoints.seaweedfs})`);
}

async function ensureUp(service: Service): Promise<void> {
  const record = readRecord(service.name);
  // The environment counts as code: switching S3_BACKEND (or another setting) restarts the workers and simulator.
  const codeHash = service.codeHash && `${service.codeHash()}-${createHash('sha256').update(JSON.stringify(service.env?.() ?? {})).digest('hex').slice(0, 8)}`;
  if (isRunning(record)) {
    if (record.codeHash === codeHash) {
      await waitUntil(service.name, () => service.healthy(record), { timeoutMs: service.startTimeoutMs, logName: service.name });
      return;
    }
    console.log(`${service.name}: code or settings changed, restarting`);
    await stopProcess(service.name, service.stop);
  }
  for (const { host, port } of service.listens?.() ?? []) {
    if (await tcpOpen(host, port)) {
      throw new Error(`${service.name}: ${host}:${port} is already in use by a process this stack did not start (another checkout's dev stack? run 'npm stop' there)`);
    }
  }
  process.stdout.write(`${service.name}: starting ... `);
  const startedAt = Date.now();
  const identity = service.worker ? `${service.name}-${randomUUID().slice(0, 8)}@${os.hostname()}` : undefined;
  const started = startProcess(service.name, service.argv(), { env: service.env?.(), codeHash, identity, program: service.program });
  await waitUntil(service.name, async () => isRunning(readRecord(service.name)) && service.healthy(started), {
    timeoutMs: service.startTimeoutMs,
    logName: service.name,
  });
  await service.afterStart?.();
  console.log(`healthy in ${((Date.now() - startedAt) / 1000).toFixed(1)}s (log ${logFile(service.name)})`);
}

/** Stops the running profile's services in reverse order, then anything else this stack started. */
async function down(): Promise<void> {
  for (const service of services(runningProfile(), runningLayout().endsWith('separate')).reverse()) {
    if (await stopProcess(service.name, service.stop)) console.log(`${service.name}: stopped`);
  }
  const others = fs.existsSync(pidDir) ? fs.readdirSync(pidDir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length)) : [];
  for (const name of others) {
    if (await stopProcess(name)) console.log(`${name}: stopped`);
  }
}

async function status(): Promise<boolean> {
  let allUp = true;
  for (const service of services(runningProfile(), runningLayout().endsWith('separate'))) {
    const record = readRecord(service.name);
    const running = isRunning(record);
    const healthy = running && (await service.healthy(record).catch(() => false));
    allUp &&= healthy;
    console.log(`${service.name.padEnd(22)} ${healthy ? 'healthy' : running ? 'running, not healthy' : 'stopped'}${running ? `  pid ${record.pid}` : ''}`);
  }
  console.log(`profile: ${runningProfile()}   Temporal UI: ${devStack.temporal.uiUrl}   logs: .dev/logs/`);
  return allUp;
}

const command = process.argv[2];
try {
  if (command === 'up') await up();
  else if (command === 'down') await down();
  else if (command === 'status') process.exitCode = (await status()) ? 0 : 1;
  else {
    console.error('usage: tsx dev/stack.ts up|down|status');
    process.exitCode = 2;
  }
} catch (error) {
  console.error(`dev stack: ${(error as Error).message}`);
  process.exitCode = 1;
}
