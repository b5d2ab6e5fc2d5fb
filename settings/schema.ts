// Every setting of every process, by the environment variable that sets it: its type, its default
// and what it means, in one place. Each process reads the groups it needs (settings/load.ts); the
// README's settings table is rendered from here (settings/table.ts).
import path from 'node:path';
import { z } from 'zod';

const text = z.string().trim().min(1, 'must not be empty');
const absolutePath = text.refine((p) => path.isAbsolute(p), 'must be an absolute path');
const url = text.refine((u) => URL.canParse(u), 'must be a URL (like https://host:port)');
const hostPort = text.regex(/^[^\s:/]+:\d{1,5}$/, 'must be host:port');
/** host:port, or empty for none. */
const bindAddressOrNone = z
  .string()
  .trim()
  .refine((v) => v === '' || (/^(?:[\w.-]+|\[[\da-fA-F:]+\]):\d{1,5}$/.test(v) && Number(v.split(':').pop()) <= 65535), 'must be host:port (or empty for none)');
const positiveInteger = z.coerce.number().int('must be an integer').min(1, 'must be at least 1');
const boolean = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const words = z.string().transform((v) => v.split(/\s+/).filter(Boolean));
const absolutePaths = z
  .string()
  .transform((v) => v.split(':').filter(Boolean))
  .refine((paths) => paths.length > 0 && paths.every((p) => path.isAbsolute(p)), 'must list absolute directories separated by ":"');

const binaryUnits: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
/** `500000000`, `200G` or `200GiB` (units are powers of 1024). */
export const byteCount = z.string().transform((value, context) => {
  if (value === '') return undefined;
  const match = /^(\d+)\s*([KMGT]?)(?:i?B)?$/i.exec(value.trim());
  if (match) return Number(match[1]) * binaryUnits[match[2].toUpperCase()];
  context.addIssue({ code: 'custom', message: 'must be a size in bytes (like 500000000, 200G or 200GiB)' });
  return z.NEVER;
});

export interface Setting<S extends z.ZodType = z.ZodType> {
  schema: S;
  doc: string;
  /** Shown instead of the schema's default in the table (a default computed at start). */
  defaultShown?: string;
  /** Its value never appears in an error, a log or the table. */
  secret?: boolean;
}

const setting = <S extends z.ZodType>(schema: S, doc: string, extra: Omit<Setting, 'schema' | 'doc'> = {}): Setting<S> => ({ schema, doc, ...extra });

export const settingGroups = {
  temporal: {
    TEMPORAL_ADDRESS: setting(hostPort.default('127.0.0.1:7233'), 'Temporal frontend, host:port'),
    TEMPORAL_NAMESPACE: setting(text.default('default'), 'Temporal namespace'),
    TEMPORAL_TLS: setting(boolean.default(false), 'TLS to the frontend with the system CAs; implied by any TEMPORAL_TLS_* file or TEMPORAL_API_KEY'),
    TEMPORAL_TLS_CERT: setting(absolutePath.optional(), 'client certificate (PEM) for mutual TLS; with TEMPORAL_TLS_KEY'),
    TEMPORAL_TLS_KEY: setting(absolutePath.optional(), "the client certificate's private key (PEM)"),
    TEMPORAL_TLS_CA: setting(absolutePath.optional(), 'CA bundle (PEM) that signed the frontend certificate, instead of the system CAs'),
    TEMPORAL_TLS_SERVER_NAME: setting(text.optional(), 'name checked in the frontend certificate when it differs from the address host'),
    TEMPORAL_API_KEY: setting(text.optional(), 'API key sent as a bearer token (Temporal Cloud, or a frontend with an authorizer)', { secret: true }),
    TEMPORAL_CONFIG_FILE: setting(absolutePath.optional(), "a `temporal.toml` client configuration, as the `temporal` CLI reads it: its profile's address, namespace, API key and TLS files stand for the TEMPORAL_* variables not set"),
    TEMPORAL_PROFILE: setting(text.default('default'), 'the profile of TEMPORAL_CONFIG_FILE to use'),
    IMAGE_TASK_QUEUE: setting(text.default('boot-image'), 'task queue of the orchestrator workers'),
  },
  worker: {
    WORKER_IDENTITY: setting(text.optional(), "identity the worker polls with (the dev stack names each process)", { defaultShown: 'pid@host' }),
    WORKFLOW_BUNDLE: setting(absolutePath.optional(), 'prebuilt workflow bundle (workers/bundleWorkflows.ts; the container image has one); else bundled at start'),
    WORKER_HEALTH_PORT: setting(positiveInteger.optional(), 'port of GET /healthz (200 while every worker of the process runs); none when unset'),
    WORKER_HEALTH_HOST: setting(text.default('0.0.0.0'), 'address /healthz listens on'),
    WORKER_HOST_ID: setting(text.optional(), "names this host's encryption task queue", { defaultShown: 'host name' }),
    WORKER_SHUTDOWN_GRACE_SECONDS: setting(positiveInteger.default(30), 'on SIGTERM, how long running activities have to finish, or to record their progress (an upload its parts) and stop, before they are cancelled; keep it below the stop timeout of systemd, Docker or Kubernetes'),
    WORKER_STICKY_CACHE_SIZE: setting(positiveInteger.optional(), 'workflows the orchestrator keeps in memory between their tasks (sticky cache), sparing a replay of each history', { defaultShown: "the SDK's, from the heap size" }),
    ORCHESTRATOR_ACTIVITY_CONCURRENCY: setting(positiveInteger.default(100), 'activities at once on IMAGE_TASK_QUEUE: the CSM API calls, S3 checks and node checks, and the uploads of imports'),
    ENCRYPTION_HOST_CONCURRENCY: setting(positiveInteger.default(4), "activities at once on this host's encryption queue: staging, LUKS encryption, verification and the container's upload, each an image's worth of disk, CPU and bandwidth"),
    METRICS_BIND_ADDRESS: setting(
      bindAddressOrNone.optional(),
      'host:port of GET /metrics (Prometheus); empty: no metrics',
      { defaultShown: '0.0.0.0:9464 (orchestrator), 0.0.0.0:9465 (agents)' },
    ),
  },
  versioning: {
    WORKER_DEPLOYMENT_NAME: setting(text.default('boot-image-orchestrator'), 'Worker Deployment the orchestrator workers belong to (Worker Versioning)'),
    WORKER_BUILD_ID: setting(
      text.regex(/^[A-Za-z0-9._-]{1,255}$/, 'must be letters, digits, ".", "_" or "-" (at most 255)').optional(),
      'build id of this version of the deployment: the same for every replica running the same workflow code',
      { defaultShown: 'first 16 hex of sha256(workflow bundle)' },
    ),
    WORKER_SET_CURRENT: setting(boolean.default(false), 'make this build the current version once it polls (single-host installs, the dev stack); false where an operator promotes it (README, "Upgrading workers")'),
  },
  imagectl: {
    TEMPORAL_UI_URL: setting(url.default('http://127.0.0.1:8233'), 'Temporal UI base URL, for the links imagectl prints'),
  },
  s3: {
    S3_ENDPOINT: setting(url, 'S3 endpoint (Ceph RGW), addressed path-style'),
    S3_REGION: setting(text.default('us-east-1'), 'S3 region'),
    S3_ACCESS_KEY_ID: setting(text, 'S3 access key id'),
    S3_SECRET_ACCESS_KEY: setting(text, 'S3 secret key', { secret: true }),
    S3_CA_BUNDLE: setting(absolutePath.optional(), "CA bundle (PEM) that signed an https S3 endpoint's certificate, instead of the system CAs"),
  },
  csm: {
    CSM_API_URL: setting(url, 'CSM API gateway (IMS, CFS, BSS and the Keycloak token endpoint)'),
    CSM_CLIENT_ID: setting(text, 'Keycloak client id (client credentials)'),
    CSM_CLIENT_SECRET: setting(text, 'Keycloak client secret', { secret: true }),
    CSM_CA_BUNDLE: setting(absolutePath.optional(), "CA bundle (PEM) that signed the API gateway's certificate, instead of the system CAs"),
    BSS_SNAPSHOT_PREFIX: setting(text.regex(/^s3:\/\/[^/]+/, 'must be s3://bucket[/prefix]').default('s3://ims/bss-changes'), 'where BSS snapshots of each rollout go'),
  },
  luks: {
    LUKS_KEY_DIR: setting(absolutePath.default('/etc/boot-image-orchestrator/luks-keys'), 'the file key store (0700)'),
    LUKS_WORK_DIR: setting(absolutePath.default('/var/lib/boot-image-orchestrator/luks'), 'scratch space for staging and encryption'),
  },
  imports: {
    IMPORT_ROOTS: setting(absolutePaths.default(['/var/lib/boot-images/import']), 'the only directories local files are imported from, separated by ":" (real paths: `..` and symlinks leading out are refused)', { defaultShown: '/var/lib/boot-images/import' }),
  },
  initiator: {
    INITIATOR_WORK_DIR: setting(absolutePath.default('/var/lib/boot-image-orchestrator/initiator'), 'scratch space of the node checks'),
    INITIATOR_SECRETS_DIR: setting(absolutePath.default('/etc/boot-image-orchestrator/secrets'), 'CHAP secrets by reference, one file each'),
    INITIATOR_SSH_USER: setting(z.string().default('root'), 'user for open-iscsi checks over SSH on the nodes (empty: none in the destination)'),
    INITIATOR_SSH_OPTIONS: setting(words.default(['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10']), 'ssh options for those checks', { defaultShown: '-o BatchMode=yes -o ConnectTimeout=10' }),
    INITIATOR_PER_SERVER_CONCURRENCY: setting(positiveInteger.default(8), 'node checks at once against one iSCSI server'),
    INITIATOR_NODE_CONCURRENCY: setting(positiveInteger.default(32), 'node checks at once in all'),
  },
  simulator: {
    CSM_SIM_HOST: setting(text.default('127.0.0.1'), 'address the CSM simulator listens on (the dev stack: the host of CSM_API_URL)'),
    CSM_SIM_PORT: setting(z.coerce.number().int('must be an integer').min(0, 'must be 0 or more').max(65535, 'must be at most 65535').default(8444), 'its port (0: any free port)'),
    CSM_SIM_DATA_DIR: setting(text.default('.dev/csm-sim'), 'where it keeps IMS, CFS and BSS records'),
    CSM_SIM_TOKEN_LIFETIME: setting(positiveInteger.default(300), 'lifetime of the tokens it issues, in seconds'),
  },
  iscsiServer: {
    AGENT_ACTIVITY_CONCURRENCY: setting(positiveInteger.default(4), "activities at once on the agent's queue: stagings from S3 beside target changes (which run one at a time)"),
    ISCSI_DRIVER: setting(z.enum(['tgt', 'lio']).default('tgt'), 'target driver on the iSCSI server'),
    LIO_SAVECONFIG: setting(absolutePath.default('/etc/target/saveconfig.json'), "targetcli's saveconfig file (Debian: /etc/rtslib-fb-target/saveconfig.json)"),
    TGT_CONTROL_PORT: setting(z.coerce.number().int('must be an integer').min(0, 'must be 0 or more').default(0), 'tgtd control port index (tgtadm -C)'),
    ISCSI_STATE_DIR: setting(absolutePath.default('/var/lib/boot-image-agent'), "the agent's export record (tgt)"),
    ISCSI_CACHE_DIR: setting(absolutePath.default('/var/lib/boot-image-agent/cache'), 'where artifacts are staged on the server'),
    ISCSI_CACHE_MAX_BYTES: setting(byteCount.optional(), 'bound of the staging cache (bytes, or 200G); unbounded when unset'),
    ISCSI_SECRETS_DIR: setting(absolutePath.default('/etc/boot-image-agent/secrets'), 'CHAP secrets by reference, one file each'),
    ISCSI_SSH_DESTINATION: setting(text.optional(), 'user@host: the server is driven over SSH from where the agent runs'),
    ISCSI_SSH_OPTIONS: setting(words.default(['-o', 'BatchMode=yes']), 'ssh options for ISCSI_SSH_DESTINATION (like -i /etc/boot-image-agent/ssh/id_ed25519)', { defaultShown: '-o BatchMode=yes' }),
  },
} satisfies Record<string, Record<string, Setting>>;

export type SettingGroup = keyof typeof settingGroups;
export type GroupSettings<G extends SettingGroup> = {
  [K in keyof (typeof settingGroups)[G]]: (typeof settingGroups)[G][K] extends Setting<infer S> ? z.output<S> : never;
};
