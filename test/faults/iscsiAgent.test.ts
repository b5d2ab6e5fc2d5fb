// An iSCSI server that breaks mid-export (DESIGN §5: "worker killed mid-activity → activity retried"):
// the agent stops heartbeating (SIGSTOP) while it stages: the try times out by its heartbeat timeout and
// the step is tried again once the agent is back (SIGCONT); tgtd is killed while the artifact stages:
// the export's tries fail until tgtd is back, then the export completes. A private tgtd on the stack's
// net (.150) with an agent process of its own, its S3 reads through a proxy that makes staging slow
// enough to break things in the middle; the stack's orchestrator runs exportImage.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { showTargets } from '../../activities/tgt/tgtadm';
import { devStack } from '../../dev/config';
import { makeSampleImage } from '../../dev/sampleImage';
import { exportImage } from '../../workflows/exportImage';
import { startTgtd, type PrivateTgtd } from '../export/helpers/tgtd';
import { attemptRowsOf } from '../helpers/history';
import { seedImage } from '../helpers/images';
import { startS3Proxy, type S3Proxy } from '../helpers/s3Proxy';
import { connectClient, uniqueId } from '../helpers/temporal';
import { startAgentProcess, type WorkerProcess } from '../helpers/workerProcess';

// Control ports are machine-wide (tgtd's socket): one of the stack's own range, beside its .2/.3 servers.
const controlPort = 1150 + 200 * Number(devStack.net.split('.')[2]);
const address = `${devStack.net}.150`;
const server = `faults-${randomUUID().slice(0, 6)}`;
const nodeIqn = `iqn.2026-11.test.faults:${randomUUID().slice(0, 8)}`;
const slowStaging = { kind: 'slow', delayMs: 6000 } as const;

let client: Client;
let tgtd: PrivateTgtd;
let proxy: S3Proxy;
let agent: WorkerProcess;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'faults-agent-'));

beforeAll(async () => {
  client = await connectClient();
  tgtd = await startTgtd(controlPort, address);
  proxy = await startS3Proxy(devStack.s3.endpoint, { host: `${devStack.net}.101` });
  agent = await startAgentProcess(server, {
    S3_ENDPOINT: proxy.endpoint,
    ISCSI_DRIVER: 'tgt',
    TGT_CONTROL_PORT: String(controlPort),
    ISCSI_CACHE_DIR: path.join(root, 'cache'),
    ISCSI_STATE_DIR: path.join(root, 'state'),
    ISCSI_SECRETS_DIR: path.join(root, 'secrets'),
  });
});
afterEach(() => {
  proxy.clear();
  agent.signal('SIGCONT'); // put the agent back, whatever a test left it as
});
afterAll(async () => {
  await agent?.kill();
  await tgtd?.stop();
  await proxy?.close();
  await client?.connection.close();
  fs.rmSync(root, { recursive: true, force: true });
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 250))) {
    const value = await probe();
    if (value !== undefined) return value;
  }
  throw new Error(`timed out waiting for ${what}`);
}

const startExport = async (label: string) => {
  // An image of its own: the agent's cache would serve the bytes of another without a download.
  const sample = await makeSampleImage(path.join(root, uniqueId('image')), { payloadMiB: 1, label: uniqueId(label) });
  const image = await seedImage({ rootfs: sample.rootfs });
  proxy.inject(slowStaging, { count: 1, matches: (req) => req.method === 'GET' });
  const handle = await client.workflow.start(exportImage, {
    taskQueue: devStack.temporal.taskQueue,
    workflowId: uniqueId(label),
    args: [{ imageId: image.imageId, servers: [{ name: server }], initiators: [nodeIqn], retry: { budgetMinutes: 5, maxIntervalSeconds: 2 } }],
  });
  return { image, handle };
};
const stagingStarted = (handle: WorkflowHandle) =>
  until('staging to start', async () => ((await handle.describe()).raw.pendingActivities ?? []).find((a) => a.activityType?.name === 'stageArtifact' && Number(a.state) === 2) && true);
const eventsOf = async (handle: WorkflowHandle) => (await handle.fetchHistory()).events ?? [];
const lunsOf = async (serial: string) => (await showTargets(controlPort)).flatMap((t) => t.luns.filter((l) => l.serial === serial));

describe('an iSCSI server breaking mid-export', () => {
  it('an agent that stops heartbeating: the staging try times out by its heartbeat timeout, the next one (agent back) completes the export', async () => {
    const { handle } = await startExport('faults-sigstop');
    await stagingStarted(handle);
    agent.signal('SIGSTOP');
    const timedOut = await until('the heartbeat timeout', async () => (await eventsOf(handle)).find((e) => e.activityTaskTimedOutEventAttributes));
    agent.signal('SIGCONT');
    expect(timedOut.activityTaskTimedOutEventAttributes!.failure!.timeoutFailureInfo!.timeoutType).toBe(4); // TIMEOUT_TYPE_HEARTBEAT
    const result = await handle.result();
    const rows = (await attemptRowsOf(client, handle.workflowId)).filter((row) => row.type === 'stageArtifact');
    expect(rows.map((row) => row.outcome)).toEqual(['timed-out', 'completed']);
    expect(await lunsOf(result.servers[0].serial)).toHaveLength(1);
  });

  it('tgtd killed while the artifact stages: the export tries fail until tgtd is back, then the export completes', async () => {
    const { handle } = await startExport('faults-tgtd');
    await stagingStarted(handle);
    await tgtd.kill();
    await until('a failed export try', async () => (await eventsOf(handle)).find((e) => e.activityTaskFailedEventAttributes));
    tgtd = await startTgtd(controlPort, address);
    const result = await handle.result();
    const rows = await attemptRowsOf(client, handle.workflowId);
    expect(rows.filter((row) => row.type === 'ensureExport' && row.outcome !== 'completed').length).toBeGreaterThan(0);
    expect(await lunsOf(result.servers[0].serial)).toHaveLength(1);
  });
});
