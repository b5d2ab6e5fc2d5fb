// The Helm chart of the orchestrator workers: `helm lint`, and `helm template` rendered manifests held
// to the settings schema, the workers' health endpoint and shutdown grace time.
import { execa } from 'execa';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { readSettings } from '../../settings/load';
import { settingGroups } from '../../settings/schema';

const chart = 'deploy/helm/boot-image-orchestrator';
const helm = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'boot-image-orchestrator', 'helm-v3.22.0', 'bin', 'helm');
const knownSettings = new Set(Object.values(settingGroups).flatMap((group) => Object.keys(group)));

async function render(...sets: string[]) {
  const result = await execa(helm, ['template', 'images', chart, ...sets.flatMap((s) => ['--set', s])]);
  const documents = parseAllDocuments(result.stdout).map((d) => d.toJSON()).filter(Boolean);
  const kind = (name: string) => documents.find((d) => d.kind === name);
  return { configMap: kind('ConfigMap'), deployment: kind('Deployment'), pdb: kind('PodDisruptionBudget'), all: (name: string) => documents.filter((d) => d.kind === name) };
}

describe('Helm chart', () => {
  it('passes helm lint', async () => {
    const result = await execa(helm, ['lint', '--strict', chart], { reject: false });
    expect(result.exitCode, result.stdout).toBe(0);
  });

  it('renders settings the schema accepts, every one a known variable, the secret ones from the Secret', async () => {
    const { configMap, deployment } = await render('temporalTls.secretName=temporal-client', 'temporalTls.serverName=temporal.site');
    for (const name of Object.keys(configMap.data)) expect(knownSettings.has(name), name).toBe(true);
    const container = deployment.spec.template.spec.containers[0];
    expect(container.envFrom).toEqual([{ configMapRef: { name: configMap.metadata.name } }, { secretRef: { name: 'boot-image-orchestrator' } }]);
    // The ConfigMap plus the Secret's variables make a valid orchestrator configuration (TLS files aside).
    const secret = { S3_ACCESS_KEY_ID: 'id', S3_SECRET_ACCESS_KEY: 'secret', CSM_CLIENT_SECRET: 'secret' };
    const settings = readSettings(['temporal', 'worker', 's3', 'csm', 'luks', 'initiator'], { ...configMap.data, ...secret });
    expect(settings.temporal.TEMPORAL_TLS_SERVER_NAME).toBe('temporal.site');
    const mounted = container.volumeMounts.find((m: { name: string }) => m.name === 'temporal-tls').mountPath;
    expect(path.dirname(settings.temporal.TEMPORAL_TLS_CERT!)).toBe(mounted);
  });

  it("probes the workers' /healthz, lets uploads record their progress on shutdown, keeps a pod through disruptions", async () => {
    const { configMap, deployment, pdb } = await render();
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    const healthPort = container.ports.find((p: { name: string }) => p.name === 'health').containerPort;
    expect(String(healthPort)).toBe(configMap.data.WORKER_HEALTH_PORT);
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) expect(container[probe].httpGet, probe).toEqual({ path: '/healthz', port: 'health' });
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(30); // the workers' shutdown grace time
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels);
    expect(pdb.spec.minAvailable).toBeLessThan(deployment.spec.replicas);
  });

  it('runs a Deployment per worker version, beside each other through an upgrade, the current one promoting itself', async () => {
    const { all } = await render('versions[0].buildId=1.0.0', 'versions[0].tag=1.0.0', 'versions[1].buildId=1.1.0', 'versions[1].tag=1.1.0', 'versions[1].current=true');
    const versions = all('Deployment').map((deployment) => {
      const container = deployment.spec.template.spec.containers[0];
      const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
      return { name: deployment.metadata.name, image: container.image, build: env.WORKER_BUILD_ID, current: env.WORKER_SET_CURRENT, selects: deployment.spec.selector.matchLabels['app.kubernetes.io/version'] };
    });
    expect(versions).toEqual([
      { name: 'images-1.0.0', image: 'registry.local/boot-image-orchestrator:1.0.0', build: '1.0.0', current: 'false', selects: '1.0.0' },
      { name: 'images-1.1.0', image: 'registry.local/boot-image-orchestrator:1.1.0', build: '1.1.0', current: 'true', selects: '1.1.0' },
    ]);
    expect(all('PodDisruptionBudget').map((pdb) => pdb.spec.selector.matchLabels['app.kubernetes.io/version'])).toEqual(['1.0.0', '1.1.0']);
    const none = await execa(helm, ['template', 'images', chart, '--set', 'versions[0].buildId=1.0.0,versions[0].tag=1.0.0,versions[0].current=false'], { reject: false });
    expect(none.stderr).toContain('exactly one entry of versions must be current: true');
  });
});
