// The services of the embedded dev stack, in start order.
import { CreateBucketCommand, ListBucketsCommand } from '@aws-sdk/client-s3';
import { Connection } from '@temporalio/client';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { createS3Client } from '../activities/s3/client';
import { showTargets } from '../activities/tgt/tgtadm';
import { iscsiServerTaskQueue } from '../lib/taskQueues';
import type { ProcessRecord } from './processes';
import { clusterTemporal } from './cluster';
import { devStack, projectRoot, stackEnvironment, stateDir, type IscsiServer } from './config';

export interface Service {
  name: string;
  argv(): string[];
  env?(): Record<string, string>;
  /** Code whose change requires a restart (project sources); absent for third-party servers. */
  codeHash?(): string;
  /** Workers: identified to Temporal by a per-start identity, so an old poller is not mistaken for this one. */
  worker?: boolean;
  healthy(record: ProcessRecord): Promise<boolean>;
  /** Addresses the service listens on: checked free before it starts. */
  listens?(): { host: string; port: number }[];
  /** The program the process ends up running, when argv[0] execs it (see ProcessRecord.program). */
  program?: string;
  /** Run once after the service first turns healthy (bucket creation, ...). */
  afterStart?(): Promise<void>;
  stop?(): Promise<void>;
  startTimeoutMs: number;
}

const venvBin = (name: string) => path.join(stateDir, 'venv', 'bin', name);
/** node with tsx as its loader: one process, so the PID file holds the process that does the work. */
const tsNode = (script: string, ...args: string[]) => [process.execPath, '--import', 'tsx', path.join(projectRoot, script), ...args];

function hashSources(dirs: string[]): string {
  const hash = createHash('sha256');
  for (const dir of dirs) {
    for (const file of fs.readdirSync(path.join(projectRoot, dir), { recursive: true, encoding: 'utf8' }).sort()) {
      const full = path.join(projectRoot, dir, file);
      if (fs.statSync(full).isFile()) hash.update(file).update(fs.readFileSync(full));
    }
  }
  return hash.digest('hex').slice(0, 16);
}

const codeDirs = ['workflows', 'activities', 'workers', 'lib', 'settings'];

export function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 1000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

async function temporalHealthy(): Promise<boolean> {
  const connection = await Connection.connect({ address: devStack.temporal.address, connectTimeout: 1000 });
  try {
    const response = await connection.healthService.check({});
    return response.status === 1; // SERVING
  } finally {
    await connection.close();
  }
}

async function pollerOf(taskQueue: string, kind: 'workflow' | 'activity', identity: string | undefined) {
  const connection = await Connection.connect({ address: devStack.temporal.address, connectTimeout: 1000 });
  try {
    const response = await connection.workflowService.describeTaskQueue({
      namespace: devStack.temporal.namespace,
      taskQueue: { name: taskQueue },
      taskQueueType: kind === 'workflow' ? 1 : 2,
    });
    return (response.pollers ?? []).find((poller) => poller.identity === identity);
  } finally {
    await connection.close();
  }
}

const hasPoller = async (taskQueue: string, kind: 'workflow' | 'activity', identity: string | undefined) => (await pollerOf(taskQueue, kind, identity)) !== undefined;

/** The worker polls, and with the current version of its deployment: new workflows reach it. */
async function pollsAsCurrent(taskQueue: string, identity: string | undefined): Promise<boolean> {
  const version = (await pollerOf(taskQueue, 'workflow', identity))?.deploymentOptions;
  if (!version?.buildId) return false;
  const connection = await Connection.connect({ address: devStack.temporal.address, connectTimeout: 1000 });
  try {
    const { workerDeploymentInfo } = await connection.workflowService.describeWorkerDeployment({ namespace: devStack.temporal.namespace, deploymentName: version.deploymentName! });
    return workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId === version.buildId;
  } catch {
    return false;
  } finally {
    await connection.close();
  }
}

/** A worker's Prometheus endpoint answers (it is served by the SDK's runtime, before the worker polls). */
async function servesMetrics(address: string): Promise<boolean> {
  const response = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
  return response?.ok ?? false;
}

const hostPort = (address: string) => {
  const url = new URL(address.includes('://') ? address : `tcp://${address}`);
  return { host: url.hostname, port: Number(url.port) };
};

const temporal: Service = {
  name: 'temporal',
  listens: () => [hostPort(devStack.temporal.address), hostPort(devStack.temporal.uiUrl)],
  argv: () => {
    const [host, port] = devStack.temporal.address.split(':');
    fs.mkdirSync(path.join(stateDir, 'temporal'), { recursive: true });
    return [
      venvBin('temporal'), 'server', 'start-dev',
      '--ip', host, '--port', port, '--ui-port', new URL(devStack.temporal.uiUrl).port,
      '--db-filename', path.join(stateDir, 'temporal', 'temporal.db'),
      '--namespace', devStack.temporal.namespace,
      ...Object.entries(devStack.searchAttributes).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
      '--log-level', 'warn',
    ];
  },
  healthy: temporalHealthy,
  startTimeoutMs: 60_000,
};

const s3ConfigFile = path.join(stateDir, 's3', 'identities.json');

const s3: Service = {
  name: 's3',
  argv: () => {
    fs.mkdirSync(path.join(stateDir, 's3', 'data'), { recursive: true });
    fs.writeFileSync(
      s3ConfigFile,
      JSON.stringify({
        identities: [
          {
            name: 'devstack-admin',
            credentials: [{ accessKey: devStack.s3.accessKeyId, secretKey: devStack.s3.secretAccessKey }],
            actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'],
          },
        ],
      }),
      { mode: 0o600 },
    );
    const url = new URL(devStack.s3.endpoints.seaweedfs);
    return [
      // Logs to stderr only (the service log under .dev/logs), not also to files in /tmp.
      venvBin('weed'), '-logtostderr', 'server',
      '-dir', path.join(stateDir, 's3', 'data'),
      '-ip', url.hostname, '-ip.bind', url.hostname,
      '-master.port', new URL(devStack.s3.seaweedMasterUrl).port, '-volume.port', String(devStack.s3.seaweedPorts.volume), '-filer.port', String(devStack.s3.seaweedPorts.filer),
      '-master.volumeSizeLimitMB', '1024', '-volume.max', '200',
      // No Iceberg or Lance catalog servers: nothing uses them, and they would take machine-wide ports.
      '-s3', '-s3.port', url.port, '-s3.port.iceberg', '0', '-s3.port.lance', '0', '-s3.config', s3ConfigFile,
    ];
  },
  listens: () => [hostPort(devStack.s3.endpoints.seaweedfs)],
  healthy: () => s3Answers(devStack.s3.endpoints.seaweedfs),
  afterStart: () => createBuckets(devStack.s3.endpoints.seaweedfs),
  startTimeoutMs: 60_000,
};

const s3Client = (endpoint: string) => createS3Client({ ...devStack.s3, endpoint });

/** Healthy: answers a signed request with the stack's keys. */
async function s3Answers(endpoint: string): Promise<boolean> {
  await s3Client(endpoint).send(new ListBucketsCommand({}));
  return true;
}

async function createBuckets(endpoint: string): Promise<void> {
  const client = s3Client(endpoint);
  const existing = new Set((await client.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name));
  for (const bucket of devStack.s3.buckets) {
    if (!existing.has(bucket)) await client.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

/** Ceph RGW: dev/cephCluster.ts builds a fresh one-node cluster and runs its daemons (see there). */
const rgw: Service = {
  name: 'rgw',
  argv: () => tsNode('dev/cephCluster.ts'),
  listens: () => [hostPort(devStack.s3.endpoints.rgw), { host: devStack.ceph.address, port: devStack.ceph.monPort }],
  healthy: () => s3Answers(devStack.s3.endpoints.rgw),
  afterStart: () => createBuckets(devStack.s3.endpoints.rgw),
  startTimeoutMs: 90_000,
};

function iscsiTarget(server: IscsiServer): Service {
  const tgtadm = (...args: string[]) => execa('tgtadm', ['-C', String(server.controlPort), ...args]);
  return {
    name: `tgtd-${server.name}`,
    argv: () => ['/usr/sbin/tgtd', '-f', '-C', String(server.controlPort), '--iscsi', `portal=${server.address}:${server.port}`],
    listens: () => [{ host: server.address, port: server.port }],
    healthy: async () => (await tgtadm('--op', 'show', '--mode', 'sys')).exitCode === 0 && tcpOpen(server.address, server.port),
    // tgtd ignores SIGTERM: take it offline, delete its targets (the system delete refuses while
    // any exist), then delete the system.
    stop: async () => {
      await tgtadm('--op', 'update', '--mode', 'sys', '--name', 'State', '-v', 'offline');
      for (const target of await showTargets(server.controlPort)) {
        await tgtadm('--lld', 'iscsi', '--op', 'delete', '--mode', 'target', '--tid', String(target.tid), '--force');
      }
      await tgtadm('--op', 'delete', '--mode', 'system', '--force');
    },
    startTimeoutMs: 15_000,
  };
}

const csmSimulator: Service = {
  name: 'csm-sim',
  argv: () => tsNode('sim/main.ts'),
  env: () => ({
    ...stackEnvironment(),
    CSM_SIM_HOST: new URL(devStack.csm.url).hostname,
    CSM_SIM_PORT: new URL(devStack.csm.url).port,
    CSM_SIM_DATA_DIR: path.join(stateDir, 'csm-sim'),
  }),
  codeHash: () => hashSources(['sim']),
  listens: () => [hostPort(devStack.csm.url)],
  healthy: () => tcpOpen(hostPort(devStack.csm.url).host, hostPort(devStack.csm.url).port),
  startTimeoutMs: 30_000,
};

const orchestratorWorker = (name: string, metricsAddress: string): Service => ({
  name,
  argv: () => tsNode('workers/main.ts', '--role', 'orchestrator'),
  // Each start of new code is a new build (its hash), made current as it comes up.
  env: () => ({ ...stackEnvironment(), METRICS_BIND_ADDRESS: metricsAddress, WORKER_SET_CURRENT: 'true' }),
  codeHash: () => hashSources(codeDirs),
  worker: true,
  listens: () => [hostPort(metricsAddress)],
  healthy: async (record) => (await pollsAsCurrent(devStack.temporal.taskQueue, record.identity)) && servesMetrics(metricsAddress),
  startTimeoutMs: 120_000,
});

/** The environment of the dev stack's agent for one iSCSI server (its driver, cache, record, secrets). */
export const agentEnvironment = (server: IscsiServer): Record<string, string> => ({
  ...stackEnvironment(),
  TGT_CONTROL_PORT: String(server.controlPort),
  ISCSI_DRIVER: 'tgt',
  ISCSI_CACHE_DIR: path.join(stateDir, 'iscsi-cache', server.name),
  ISCSI_STATE_DIR: path.join(stateDir, 'iscsi-state', server.name),
  ISCSI_SECRETS_DIR: path.join(stateDir, 'secrets'),
});

function iscsiServerAgent(server: IscsiServer): Service {
  return {
    name: `worker-${server.name}`,
    argv: () => tsNode('workers/main.ts', '--role', 'iscsi-server', '--server', server.name),
    env: () => ({ ...agentEnvironment(server), METRICS_BIND_ADDRESS: server.metricsAddress }),
    codeHash: () => hashSources(codeDirs),
    worker: true,
    listens: () => [hostPort(server.metricsAddress)],
    healthy: async (record) => (await hasPoller(iscsiServerTaskQueue(server.name), 'activity', record.identity)) && servesMetrics(server.metricsAddress),
    startTimeoutMs: 60_000,
  };
}

export type StackProfile = 'dev' | 'cluster';

export function stackProfile(): StackProfile {
  const profile = process.env.DEV_STACK_PROFILE ?? 'dev';
  if (profile !== 'dev' && profile !== 'cluster') throw new Error(`DEV_STACK_PROFILE must be dev or cluster, not "${profile}"`);
  return profile;
}

/**
 * The services of a profile: `dev` runs Temporal's dev server and one orchestrator worker;
 * `cluster` the multi-service server on PostgreSQL (dev/cluster.ts) and two orchestrator workers.
 */
export function services(profile: StackProfile = stackProfile(), separateProcesses = process.env.DEV_STACK_CLUSTER_PROCESSES === 'separate'): Service[] {
  const cluster = profile === 'cluster';
  const list = [...(cluster ? clusterTemporal({ frontendHealthy: temporalHealthy, tcpOpen }, separateProcesses) : [temporal]), s3, rgw, ...devStack.iscsiServers.map(iscsiTarget)];
  if (fs.existsSync(path.join(projectRoot, 'sim', 'main.ts'))) list.push(csmSimulator);
  list.push(orchestratorWorker('worker-orchestrator', devStack.orchestratorMetricsAddress), ...(cluster ? [orchestratorWorker('worker-orchestrator-2', devStack.secondOrchestratorMetricsAddress)] : []));
  list.push(...devStack.iscsiServers.map(iscsiServerAgent));
  return list;
}
