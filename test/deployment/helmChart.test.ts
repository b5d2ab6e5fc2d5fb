// The Helm chart of the orchestrator workers: `helm lint`, and `helm template` rendered manifests held
// to the Kubernetes schemas (strict: no field Kubernetes does not know), the settings schema, the
// workers' health endpoint and shutdown grace time.
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { readSettings } from '../../settings/load';
import { settingGroups } from '../../settings/schema';
import { stateDir } from '../../dev/config';

const chart = 'deploy/helm/boot-image-orchestrator';
const helm = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'boot-image-orchestrator', 'helm-v3.22.0', 'bin', 'helm');
const knownSettings = new Set(Object.values(settingGroups).flatMap((group) => Object.keys(group)));

/** kubernetes-validate (PyPI, in the project venv): the Kubernetes JSON schemas of each release it carries. */
const kubernetesValidate = path.join(stateDir, 'venv', 'bin', 'kubernetes-validate');
/** The oldest and the newest Kubernetes it carries schemas of: the chart must hold on both. */
const kubernetesVersions = ['1.25.0', '1.37.0'];

async function validateManifests(manifests: string, kubernetesVersion: string) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'helm-')), 'manifests.yaml');
  fs.writeFileSync(file, manifests);
  return execa(kubernetesValidate, ['--strict', '--no-warn', '-k', kubernetesVersion, file], { reject: false, all: true });
}

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

  it.each(kubernetesVersions)('renders manifests the Kubernetes %s schemas accept, strictly, with and without the TLS Secret', async (version) => {
    for (const sets of [[], ['temporalTls.secretName=temporal-client', 'temporalTls.serverName=temporal.site']]) {
      const { stdout } = await execa(helm, ['template', 'images', chart, ...sets.flatMap((s) => ['--set', s])]);
      const result = await validateManifests(stdout, version);
      expect(result.exitCode, result.all).toBe(0);
      for (const resource of ['deployment', 'configmap', 'poddisruptionbudget']) expect(result.all).toMatch(new RegExp(`passed for resource ${resource}/`));
    }
  });

  it('is refused by that validation for a field Kubernetes does not have, or a value of the wrong type', async () => {
    const copy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'helm-chart-')), 'chart');
    fs.cpSync(chart, copy, { recursive: true });
    const deployment = path.join(copy, 'templates', 'deployment.yaml');
    const template = fs.readFileSync(deployment, 'utf8');
    expect(template).toContain('terminationGracePeriodSeconds:');
    fs.writeFileSync(deployment, template.replace('terminationGracePeriodSeconds:', 'terminationGracePeriod:'));
    const misspelt = await validateManifests((await execa(helm, ['template', 'images', copy])).stdout, kubernetesVersions[1]);
    expect(misspelt.exitCode).not.toBe(0);
    // One Deployment per version (deployment/images-<version>).
    expect(misspelt.all).toMatch(/deployment\/images-[^ ]+ against version 1\.37: spec\.template\.spec: Additional properties are not allowed \('terminationGracePeriod' was unexpected\)/);
    const wrongType = await validateManifests((await execa(helm, ['template', 'images', chart, '--set-string', 'replicas=two'])).stdout, kubernetesVersions[1]);
    expect(wrongType.exitCode).not.toBe(0);
    expect(wrongType.all).toMatch(/replicas/);
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
    const shutdownGrace = readSettings(['worker'], configMap.data).worker.WORKER_SHUTDOWN_GRACE_SECONDS;
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(shutdownGrace); // the workers' shutdown grace time
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
