// The embedded dev stack's settings: one place for ports, addresses and credentials.
// Every value can be overridden by the environment variable of the same name, which is also
// how workers, imagectl and tests are pointed at a real site.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const stateDir = path.join(projectRoot, '.dev');

const env = (name: string, fallback: string): string => process.env[name] ?? fallback;

/**
 * The /24 of loopback the stack lives on (`127.0.0` by default): a second checkout can run its own
 * stack beside the first with `DEV_STACK_NET=127.0.5`. The tgtd control ports move with it, since
 * tgtd's control sockets are machine-wide, and Temporal's and SeaweedFS's ports (see below).
 */
const net = env('DEV_STACK_NET', '127.0.0');
if (!/^127\.(25[0-5]|2[0-4]\d|1?\d?\d)\.(25[0-5]|2[0-4]\d|1?\d?\d)$/.test(net)) {
  throw new Error(`DEV_STACK_NET must be the first three numbers of a loopback address (like 127.0.5), not "${net}"`);
}
const stackIndex = Number(net.split('.')[2]);
const controlPortBase = stackIndex * 100;
// Temporal's dev server binds its internal services on --ip but dials them on 127.0.0.1, and SeaweedFS
// adds a 127.0.0.1 listener for each of its ports: both move by port too.
const portOffset = stackIndex * 10;

/** The S3 servers the stack runs: SeaweedFS, and Ceph RGW (CSM's S3) as a one-node cluster. */
export const s3Backends = ['seaweedfs', 'rgw'] as const;
export type S3Backend = (typeof s3Backends)[number];
const s3Backend = env('S3_BACKEND', 'seaweedfs') as S3Backend;
if (!s3Backends.includes(s3Backend)) throw new Error(`S3_BACKEND must be one of ${s3Backends.join(', ')}, not "${s3Backend}"`);
const s3Endpoints: Record<S3Backend, string> = { seaweedfs: `http://${net}.1:${8333 + portOffset}`, rgw: `http://${net}.4:8333` };

export interface IscsiServer {
  /** Host name: also names the task queue of the agent running on that server. */
  name: string;
  /** Address the iSCSI portal listens on. */
  address: string;
  port: number;
  /** tgtd control port (`tgtd -C N`, `tgtadm -C N`). */
  controlPort: number;
  /** Where this server's agent serves Prometheus metrics (METRICS_BIND_ADDRESS). */
  metricsAddress: string;
}

export const devStack = {
  /** The stack's loopback /24 (DEV_STACK_NET): tests take addresses of their own from its .100–.199. */
  net,
  temporal: {
    address: env('TEMPORAL_ADDRESS', `127.0.0.1:${7233 + portOffset}`),
    namespace: env('TEMPORAL_NAMESPACE', 'default'),
    uiUrl: env('TEMPORAL_UI_URL', `http://127.0.0.1:${8233 + portOffset}`),
    taskQueue: env('IMAGE_TASK_QUEUE', 'boot-image'),
  },
  s3: {
    /** The backend the workers, imagectl and the tests' own S3 client use (S3_BACKEND; SeaweedFS by default). */
    backend: s3Backend,
    endpoint: env('S3_ENDPOINT', s3Endpoints[s3Backend]),
    region: env('S3_REGION', 'us-east-1'),
    accessKeyId: env('S3_ACCESS_KEY_ID', 'devstack-admin'),
    secretAccessKey: env('S3_SECRET_ACCESS_KEY', 'devstack-secret-key-0123456789'),
    buckets: ['boot-images', 'ims'],
    /** The dev stack's SeaweedFS master: its admin API reclaims deleted objects' space (vacuum). */
    seaweedMasterUrl: `http://${net}.1:${19333 + portOffset}`,
    /** SeaweedFS's volume server and filer (each also listens on its port + 10000 for gRPC). */
    seaweedPorts: { volume: 18080 + portOffset, filer: 18888 + portOffset },
    /** Both servers run in every stack, whichever is the backend: the S3 suites run against each. */
    endpoints: s3Endpoints,
  },
  /** The one-node Ceph cluster behind RGW: its monitor, OSD and radosgw all listen on this address. */
  ceph: { address: `${net}.4`, monPort: 6789, dir: path.join(stateDir, 'ceph') },
  csm: {
    url: env('CSM_API_URL', `http://${net}.1:8444`),
    clientId: env('CSM_CLIENT_ID', 'admin-client'),
    clientSecret: env('CSM_CLIENT_SECRET', 'devstack-client-secret'),
  },
  /** Where the orchestrator worker serves Prometheus metrics; each agent's is in its iscsiServers entry. */
  orchestratorMetricsAddress: `${net}.1:9464`,
  /** The cluster profile's second orchestrator worker's. */
  secondOrchestratorMetricsAddress: `${net}.1:9467`,
  iscsiServers: [
    { name: 'iscsi1', address: `${net}.2`, port: 3260, controlPort: controlPortBase + 2, metricsAddress: `${net}.1:9465` },
    { name: 'iscsi2', address: `${net}.3`, port: 3260, controlPort: controlPortBase + 3, metricsAddress: `${net}.1:9466` },
  ] satisfies IscsiServer[],
  searchAttributes: { ImageId: 'Keyword', ImageName: 'Keyword', Phase: 'Keyword' },
};

/** The environment a worker or simulator started by the dev stack receives. */
export function stackEnvironment(): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: devStack.temporal.address,
    TEMPORAL_NAMESPACE: devStack.temporal.namespace,
    IMAGE_TASK_QUEUE: devStack.temporal.taskQueue,
    S3_ENDPOINT: devStack.s3.endpoint,
    S3_REGION: devStack.s3.region,
    S3_ACCESS_KEY_ID: devStack.s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: devStack.s3.secretAccessKey,
    CSM_API_URL: devStack.csm.url,
    CSM_CLIENT_ID: devStack.csm.clientId,
    CSM_CLIENT_SECRET: devStack.csm.clientSecret,
    LUKS_KEY_DIR: path.join(stateDir, 'luks-keys'),
    LUKS_WORK_DIR: path.join(stateDir, 'luks'),
    INITIATOR_WORK_DIR: path.join(stateDir, 'initiator'),
    // The tests import from their temporary directories, the demo from .dev/sample.
    IMPORT_ROOTS: [os.tmpdir(), stateDir].join(':'),
    // Workers the tests start themselves serve no metrics; the stack's own get an address each.
    METRICS_BIND_ADDRESS: '',
  };
}
