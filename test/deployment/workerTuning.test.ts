// The workers' tuning settings reach the SDK: activity slots per task queue (the orchestrator's
// API-call queue, its host's encryption queue, an agent's queue), the shutdown grace time and the
// sticky cache. Slots are read where an operator reads them: the SDK's
// temporal_worker_task_slots_available on the worker's metrics endpoint.
import { execa } from 'execa';
import path from 'node:path';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { devStack } from '../../dev/config';
import { agentEnvironment } from '../../dev/services';
import { encryptionHostTaskQueue, iscsiServerTaskQueue } from '../../lib/taskQueues';
import { readSettings } from '../../settings/load';
import { workerCommon } from '../../workers/connection';
import { checkStack } from '../../workflows/checkStack';
import { scrape } from '../helpers/prometheus';
import { connectClient, uniqueId } from '../helpers/temporal';
import { startWorkerProcess } from '../helpers/workerProcess';

const net = process.env.DEV_STACK_NET ?? '127.0.0';

/** Activity slots free on each task queue, as the worker's metrics endpoint reports them. */
async function activitySlots(address: string): Promise<Record<string, number>> {
  const text = await fetch(`http://${address}/metrics`).then((r) => r.text(), () => '');
  return Object.fromEntries(
    [...text.matchAll(/^temporal_worker_task_slots_available\{[^}]*task_queue="([^"]+)"[^}]*worker_type="ActivityWorker"[^}]*\} (\d+)/gm)].map((m) => [m[1], Number(m[2])]),
  );
}

describe('worker tuning', () => {
  it('gives the orchestrator queue and the encryption host queue the activity slots their settings say', { timeout: 120_000 }, async () => {
    const taskQueue = uniqueId('tuning');
    const hostId = uniqueId('tuning-host');
    const metrics = `${net}.110:9601`;
    const worker = await startWorkerProcess(taskQueue, {
      METRICS_BIND_ADDRESS: metrics,
      WORKER_HOST_ID: hostId,
      ORCHESTRATOR_ACTIVITY_CONCURRENCY: '7',
      ENCRYPTION_HOST_CONCURRENCY: '3',
      WORKER_STICKY_CACHE_SIZE: '50',
    });
    try {
      await expect.poll(() => activitySlots(metrics), { timeout: 30_000, interval: 500 }).toEqual({ [taskQueue]: 7, [encryptionHostTaskQueue(hostId)]: 3 });
    } finally {
      await worker.kill();
    }
  });

  it("gives an agent's queue the slots AGENT_ACTIVITY_CONCURRENCY says", { timeout: 120_000 }, async () => {
    const server = devStack.iscsiServers[1];
    const metrics = `${net}.110:9602`;
    const agent = execa(process.execPath, ['--import', 'tsx', 'workers/main.ts', '--role', 'iscsi-server', '--server', server.name], {
      env: { ...agentEnvironment(server), ISCSI_STATE_DIR: path.join(os.tmpdir(), uniqueId('tuning-state')), METRICS_BIND_ADDRESS: metrics, AGENT_ACTIVITY_CONCURRENCY: '2', WORKER_IDENTITY: uniqueId('tuning-agent') },
      reject: false,
    });
    try {
      await expect.poll(() => activitySlots(metrics), { timeout: 60_000, interval: 500 }).toEqual({ [iscsiServerTaskQueue(server.name)]: 2 });
    } finally {
      agent.kill('SIGTERM');
      await agent;
    }
  });

  it('keeps at most WORKER_STICKY_CACHE_SIZE workflows cached: with 1, workflows running together evict each other; with the default, none', { timeout: 180_000 }, async () => {
    const client = await connectClient();
    const evictions = async (cacheSize: Record<string, string>, port: number) => {
      const taskQueue = uniqueId('sticky');
      const metrics = `${net}.110:${port}`;
      const worker = await startWorkerProcess(taskQueue, { METRICS_BIND_ADDRESS: metrics, ...cacheSize });
      try {
        const input = { bucket: 'boot-images', iscsiServers: devStack.iscsiServers.map((server) => server.name) };
        await Promise.all([1, 2, 3, 4].map(() => client.workflow.execute(checkStack, { taskQueue, workflowId: uniqueId('sticky'), args: [input] })));
        return (await scrape(metrics)).get('temporal_sticky_cache_total_forced_eviction') ?? 0;
      } finally {
        await worker.kill();
      }
    };
    try {
      expect(await evictions({ WORKER_STICKY_CACHE_SIZE: '1' }, 9603)).toBeGreaterThan(0);
      expect(await evictions({}, 9604)).toBe(0);
    } finally {
      await client.connection.close();
    }
  });

  it('takes the shutdown grace time from WORKER_SHUTDOWN_GRACE_SECONDS, 30 s unless set', () => {
    const common = (env: Record<string, string>) => {
      const settings = readSettings(['temporal', 'worker'], env);
      return workerCommon({ ...settings.temporal, ...settings.worker });
    };
    expect(common({}).shutdownGraceTime).toBe('30s');
    expect(common({ WORKER_SHUTDOWN_GRACE_SECONDS: '120' }).shutdownGraceTime).toBe('120s');
    expect(() => common({ WORKER_SHUTDOWN_GRACE_SECONDS: '0' })).toThrow('WORKER_SHUTDOWN_GRACE_SECONDS: must be at least 1');
  });
});
