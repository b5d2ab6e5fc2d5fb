// The dev stack's cluster profile (DEV_STACK_PROFILE=cluster): the real multi-service Temporal server
// on Debian's PostgreSQL (persistence and SQL visibility), in place of `temporal server start-dev`.
// The server and its schema tool are built by dev/setup.sh into a cache outside the clone.
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { execa, execaSync } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { devStack, stateDir } from './config';
import type { Service } from './services';

export const temporalServerVersion = 'v1.31.2';
export const temporalServerCache = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'boot-image-orchestrator', `temporal-server-${temporalServerVersion}`);
const clusterDir = path.join(stateDir, 'cluster');
const postgresBin = (name: string) => path.join('/usr/lib/postgresql/15/bin', name);
const net = process.env.DEV_STACK_NET ?? '127.0.0';
export const postgresAddress = { host: `${net}.1`, port: 5432 };
const databases = { temporal: 'temporal', visibility: 'temporal_visibility' };
const temporalServices = ['frontend', 'history', 'matching', 'worker'] as const;

/** PostgreSQL refuses to run as root: as root, its programs run as the `postgres` user. */
const asPostgresUser = (argv: string[]) => (process.getuid?.() === 0 ? ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', ...argv] : argv);

function ensureDatabaseCluster(dataDir: string) {
  if (fs.existsSync(path.join(dataDir, 'PG_VERSION'))) return;
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  fs.mkdirSync(dataDir, { mode: 0o700 });
  if (process.getuid?.() === 0) fs.chownSync(dataDir, postgresId('-u'), postgresId('-g'));
  const initdb = asPostgresUser([postgresBin('initdb'), '-D', dataDir, '-U', 'temporal', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  const result = execaSync(initdb[0], initdb.slice(1), { reject: false });
  if (result.exitCode !== 0) throw new Error(`initdb failed: ${result.stderr}`);
}

const postgresId = (flag: string) => Number(execaSync('id', [flag, 'postgres']).stdout.trim());

const sqlTool = (database: string, ...args: string[]) =>
  execa(path.join(temporalServerCache, 'bin', 'sql'), ['--plugin', 'postgres12', '--ep', postgresAddress.host, '-p', String(postgresAddress.port), '-u', 'temporal', '--db', database, ...args]);

/** Both databases created once, then brought to the schema version of this server build. */
async function ensureSchemas(): Promise<void> {
  const stamp = path.join(clusterDir, 'schema-created');
  for (const [kind, database] of Object.entries(databases)) {
    if (!fs.existsSync(stamp)) {
      await sqlTool(database, 'create-database');
      await sqlTool(database, 'setup-schema', '-v', '0.0');
    }
    await sqlTool(database, 'update-schema', '-d', path.join(temporalServerCache, 'schema', kind === 'temporal' ? 'temporal' : 'visibility', 'versioned'));
  }
  fs.writeFileSync(stamp, temporalServerVersion);
}

const postgres: Service = {
  name: 'postgres',
  program: 'postgres',
  argv: () => {
    const dataDir = path.join(clusterDir, 'postgres');
    ensureDatabaseCluster(dataDir);
    return asPostgresUser([postgresBin('postgres'), '-D', dataDir, '-h', postgresAddress.host, '-p', String(postgresAddress.port), '-k', dataDir]);
  },
  listens: () => [postgresAddress],
  healthy: async () => (await execa(postgresBin('pg_isready'), ['-h', postgresAddress.host, '-p', String(postgresAddress.port)], { reject: false })).exitCode === 0,
  afterStart: ensureSchemas,
  // SIGTERM is PostgreSQL's "smart" shutdown, which waits for every client: SIGINT is its fast one.
  stop: async () => {
    const pidFile = path.join(clusterDir, 'postgres', 'postmaster.pid');
    if (fs.existsSync(pidFile)) process.kill(Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGINT');
  },
  startTimeoutMs: 60_000,
};

/** Where a server's services listen and what they reach, for serverConfig. */
export interface ServerPlacement {
  /** The frontend's host:port; history, matching and worker take the next ports, membership after them. */
  frontend: string;
  bindOnIP: string;
  broadcastAddress: string;
  postgres: string;
  dynamicConfigFile: string;
}

/** The module's development-postgres12.yaml with the services placed (the dev stack's ports, or docker-compose.yml's). */
export function serverConfig(template: string, placement: ServerPlacement): string {
  const config = parse(template);
  const base = Number(placement.frontend.split(':')[1]);
  config.log = { stdout: true, level: 'warn' };
  for (const store of Object.values(config.persistence.datastores) as { sql: { connectAddr: string } }[]) store.sql.connectAddr = placement.postgres;
  delete config.global.metrics;
  delete config.global.pprof;
  config.global.membership.broadcastAddress = placement.broadcastAddress;
  temporalServices.forEach((service, index) => {
    config.services[service].rpc = { grpcPort: base + index, membershipPort: base + 4 + index, bindOnIP: placement.bindOnIP, ...(service === 'frontend' ? { httpPort: base + 8 } : {}) };
  });
  config.clusterMetadata.clusterInformation.active.rpcAddress = placement.frontend;
  config.dynamicConfigClient.filepath = placement.dynamicConfigFile;
  return stringify(config);
}

export const serverConfigTemplate = () => fs.readFileSync(path.join(temporalServerCache, 'config', 'development-postgres12.yaml'), 'utf8');

/** This stack's server configuration, written under .dev/cluster. */
export function writeServerConfig(): string {
  const host = devStack.temporal.address.split(':')[0];
  fs.mkdirSync(clusterDir, { recursive: true });
  const config = serverConfig(serverConfigTemplate(), {
    frontend: devStack.temporal.address,
    bindOnIP: host,
    broadcastAddress: host,
    postgres: `${postgresAddress.host}:${postgresAddress.port}`,
    dynamicConfigFile: writeDynamicConfig(),
  });
  const file = path.join(clusterDir, 'temporal.yaml');
  fs.writeFileSync(file, config);
  return file;
}

/**
 * The module's development-sql.yaml, with a version's drainage seen within seconds instead of
 * minutes (the server's defaults, which sites keep): the upgrade test waits for it.
 */
function writeDynamicConfig(): string {
  const config = parse(fs.readFileSync(path.join(temporalServerCache, 'config', 'dynamicconfig', 'development-sql.yaml'), 'utf8'));
  config['matching.wv.VersionDrainageStatusVisibilityGracePeriod'] = [{ value: '5s' }];
  config['matching.wv.VersionDrainageStatusRefreshInterval'] = [{ value: '2s' }];
  const file = path.join(clusterDir, 'dynamicconfig.yaml');
  fs.writeFileSync(file, stringify(config));
  return file;
}

/** The default namespace and our search attributes, which the SQL visibility store keeps per namespace. */
async function registerNamespace(): Promise<void> {
  const connection = await Connection.connect({ address: devStack.temporal.address });
  const namespace = devStack.temporal.namespace;
  const ignoreExisting = (error: { code?: number }) => {
    if (error.code !== 6) throw error; // ALREADY_EXISTS
  };
  try {
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('3 days') }).catch(ignoreExisting);
    const typeIds = { Keyword: 2 } as const;
    const wanted = Object.fromEntries(Object.entries(devStack.searchAttributes).map(([name, type]) => [name, typeIds[type as keyof typeof typeIds]]));
    for (;;) {
      const result = await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: wanted }).then(
        () => true,
        (error: { code?: number; details?: string }) => {
          if (error.code === 6) return true;
          if (error.code === 5) return false; // NOT_FOUND: the namespace is not in every service's cache yet
          throw error;
        },
      );
      if (result) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  } finally {
    await connection.close();
  }
}

export const temporalUiVersion = 'v2.56.4';
const temporalUiCache = path.join(path.dirname(temporalServerCache), `temporal-ui-${temporalUiVersion}`);

/**
 * The Temporal UI (ui-server) against the cluster's frontend, where the dev server serves its own:
 * the module's development.yaml as the base configuration, this stack's addresses over it.
 */
const temporalUi: Service = {
  name: 'temporal-ui',
  argv: () => {
    const configDir = path.join(clusterDir, 'ui');
    fs.mkdirSync(configDir, { recursive: true });
    fs.copyFileSync(path.join(temporalUiCache, 'config', 'development.yaml'), path.join(configDir, 'base.yaml'));
    const ui = new URL(devStack.temporal.uiUrl);
    fs.writeFileSync(path.join(configDir, 'cluster.yaml'), stringify({ temporalGrpcAddress: devStack.temporal.address, host: ui.hostname, port: Number(ui.port), defaultNamespace: devStack.temporal.namespace }));
    return [path.join(temporalUiCache, 'bin', 'server'), '--root', configDir, '--config', '.', '--env', 'cluster', 'start'];
  },
  listens: () => [{ host: new URL(devStack.temporal.uiUrl).hostname, port: Number(new URL(devStack.temporal.uiUrl).port) }],
  healthy: async () => (await fetch(new URL('/api/v1/namespaces', devStack.temporal.uiUrl)).catch(() => undefined))?.ok === true,
  startTimeoutMs: 60_000,
};

interface Probes {
  frontendHealthy(): Promise<boolean>;
  tcpOpen(host: string, port: number): Promise<boolean>;
}

/**
 * One server process with every service, or (DEV_STACK_CLUSTER_PROCESSES=separate) one process per
 * service, as sites run them: history and matching first, then the frontend, then the system worker.
 */
export function clusterTemporal(probes: Probes, separateProcesses: boolean): Service[] {
  const [host, portText] = devStack.temporal.address.split(':');
  const grpcPort = (service: string) => Number(portText) + temporalServices.indexOf(service as (typeof temporalServices)[number]);
  const server = (name: string, services: readonly string[]): Service => ({
    name,
    argv: () => [path.join(temporalServerCache, 'bin', 'server'), '--config-file', writeServerConfig(), '--allow-no-auth', 'start', ...services.flatMap((s) => ['--service', s])],
    listens: () => services.map((service) => ({ host, port: grpcPort(service) })),
    healthy: async () => (services.includes('frontend') ? probes.frontendHealthy() : probes.tcpOpen(host, grpcPort(services[0]))),
    startTimeoutMs: 120_000,
  });
  if (separateProcesses) {
    const processes = ['history', 'matching', 'frontend', 'worker'].map((service) => server(`temporal-${service}`, [service]));
    processes[3].afterStart = registerNamespace;
    return [postgres, ...processes, temporalUi];
  }
  return [postgres, { ...server('temporal-cluster', temporalServices), afterStart: registerNamespace }, temporalUi];
}


