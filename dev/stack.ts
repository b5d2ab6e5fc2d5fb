// dev/stack.ts up|down|status: the embedded dev stack, idempotent, health-checked, stopped by PID.
import { createHash, randomUUID } from 'node:crypto';
import os from 'node:os';
import { devStack } from './config';
import { isRunning, logFile, readRecord, startProcess, stopProcess, waitUntil } from './processes';
import { services, tcpOpen, type Service } from './services';

async function up(): Promise<void> {
  for (const service of services()) await ensureUp(service);
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
  const started = startProcess(service.name, service.argv(), { env: service.env?.(), codeHash, identity });
  await waitUntil(service.name, async () => isRunning(readRecord(service.name)) && service.healthy(started), {
    timeoutMs: service.startTimeoutMs,
    logName: service.name,
  });
  await service.afterStart?.();
  console.log(`healthy in ${((Date.now() - startedAt) / 1000).toFixed(1)}s (log ${logFile(service.name)})`);
}

async function down(): Promise<void> {
  for (const service of services().reverse()) {
    if (await stopProcess(service.name, service.stop)) console.log(`${service.name}: stopped`);
  }
}

async function status(): Promise<boolean> {
  let allUp = true;
  for (const service of services()) {
    const record = readRecord(service.name);
    const running = isRunning(record);
    const healthy = running && (await service.healthy(record).catch(() => false));
    allUp &&= healthy;
    console.log(`${service.name.padEnd(22)} ${healthy ? 'healthy' : running ? 'running, not healthy' : 'stopped'}${running ? `  pid ${record.pid}` : ''}`);
  }
  console.log(`Temporal UI: ${devStack.temporal.uiUrl}   logs: .dev/logs/`);
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
