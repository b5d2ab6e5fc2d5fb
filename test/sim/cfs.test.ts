import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CfsClient, type CfsSession } from '../../activities/cfs/client';
import { ImsClient } from '../../activities/ims/client';
import { makeSampleImage, type SampleImage } from '../../dev/sampleImage';
import { Manifest, rootfsArtifact } from '../../lib/manifest';
import { makeLayerRepo } from '../../dev/gitLayer';
import { objectStore, s3, seedImage } from '../helpers/images';
import { uniqueId } from '../helpers/temporal';
import { startHarness, type Harness } from './harness';
import { GetObjectCommand } from '@aws-sdk/client-s3';

describe('simulated CFS (held to cfs.yaml)', () => {
  let h: Harness;
  let cfs: CfsClient;
  let sample: SampleImage;
  let layers: { name: string; clone_url: string; commit: string; playbook: string }[];
  beforeAll(async () => {
    h = await startHarness();
    cfs = new CfsClient(h.csm);
    sample = await makeSampleImage(fs.mkdtempSync(path.join(os.tmpdir(), 'cfs-')), { payloadMiB: 1, label: 'cfs' });
    const motd = await makeLayerRepo('motd', [{ name: 'motd', copy: { dest: '/etc/motd', content: 'customized by CFS\n' } }]);
    const site = await makeLayerRepo('site', [
      { name: 'dir', file: { path: '/opt/site', state: 'directory' } },
      { name: 'conf', lineinfile: { path: '/etc/os-release', line: 'SITE=ocean' } },
    ]);
    layers = [
      { name: 'motd', clone_url: motd.cloneUrl, commit: motd.commit, playbook: motd.playbook },
      { name: 'site', clone_url: site.cloneUrl, commit: site.commit, playbook: site.playbook },
    ];
  });
  afterEach(() => h.expectNoViolations());
  afterAll(() => h.close());

  /** The sim's IMS lives in this harness: seed through it rather than the dev stack's. */
  async function imageInThisSim(): Promise<string> {
    const seeded = await seedImage(sample, { link: false });
    const ims = new ImsClient(h.csm);
    const image = await ims.createImage({ name: 'cfs-source' });
    const manifestHead = await objectStore.head(seeded.manifestPath);
    await ims.patchImage(image.id, { link: { path: seeded.manifestPath, etag: manifestHead!.etag, type: 's3' } });
    return image.id;
  }

  async function waitComplete(name: string, timeoutMs = 60_000): Promise<CfsSession> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const session = await cfs.getSession(name);
      if (session.status?.session?.status === 'complete') return session;
      if (Date.now() > deadline) throw new Error(`session ${name} still ${session.status?.session?.status}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  it('customizes for real: a new IMS image whose squashfs holds both layers, with real etags', async () => {
    const sourceId = await imageInThisSim();
    await cfs.putConfiguration('two-layers', layers);
    const name = uniqueId('cust');
    await cfs.createSession({ name, configuration_name: 'two-layers', target: { definition: 'image', groups: [{ name: 'image', members: [sourceId] }], image_map: [{ source_id: sourceId, result_name: 'compute-custom' }] } });
    const session = await waitComplete(name);
    expect(session.status?.session?.succeeded).toBe('true');
    const artifact = session.status!.artifacts![0];
    expect(artifact).toMatchObject({ image_id: sourceId, type: 'ims_customized_image' });

    const result = await new ImsClient(h.csm).getImage(artifact.result_id!);
    expect(result.name).toBe('compute-custom');
    const manifest = Manifest.parse(JSON.parse(await objectStore.getText(result.link!.path)));
    for (const a of manifest.artifacts) expect(a.link.etag).toBe((await objectStore.head(a.link.path))!.etag);
    const rootfs = rootfsArtifact(manifest)!;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfs-result-'));
    const object = await s3.send(new GetObjectCommand({ Bucket: 'boot-images', Key: rootfs.link.path.replace('s3://boot-images/', '') }));
    fs.writeFileSync(path.join(dir, 'rootfs'), Buffer.from(await object.Body!.transformToByteArray()));
    await execa('unsquashfs', ['-quiet', '-no-progress', '-no-xattrs', '-d', path.join(dir, 'root'), path.join(dir, 'rootfs')]);
    expect(fs.readFileSync(path.join(dir, 'root/etc/motd'), 'utf8')).toBe('customized by CFS\n');
    expect(fs.readFileSync(path.join(dir, 'root/etc/os-release'), 'utf8')).toContain('SITE=ocean');
    expect(fs.statSync(path.join(dir, 'root/opt/site')).isDirectory()).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'root/etc/cfs/layers'), 'utf8')).toBe(layers.map((l) => `${l.name} ${l.clone_url} ${l.commit} site.yml\n`).join(''));
  });

  it('registers the result of the next N sessions with an etag-less rootfs link under etaglessResultsNext (seed 000), then real etags again', async () => {
    const sourceId = await imageInThisSim();
    await cfs.putConfiguration('etagless', layers.slice(0, 1));
    await fetch(`${h.sim.url}/_sim/faults`, { method: 'PUT', body: JSON.stringify({ etaglessResultsNext: 1 }) });
    const resultLinks = async () => {
      const name = uniqueId('etagless');
      await cfs.createSession({ name, configuration_name: 'etagless', target: { definition: 'image', groups: [{ name: 'image', members: [sourceId] }] } });
      const session = await waitComplete(name);
      const result = await new ImsClient(h.csm).getImage(session.status!.artifacts![0].result_id!);
      return Manifest.parse(JSON.parse(await objectStore.getText(result.link!.path))).artifacts.map((a) => [a.type, a.link.etag ?? null]);
    };
    const faulted = await resultLinks();
    expect(faulted.find(([type]) => type === 'application/vnd.cray.image.rootfs.squashfs')).toEqual(['application/vnd.cray.image.rootfs.squashfs', null]);
    expect(faulted.filter(([, etag]) => etag === null)).toHaveLength(1);
    expect((await resultLinks()).every(([, etag]) => typeof etag === 'string')).toBe(true);
  });

  it('ends complete with succeeded "false" when a layer fails', async () => {
    const sourceId = await imageInThisSim();
    const failing = await makeLayerRepo('broken', [{ name: 'boom', fail: { msg: 'layer is broken' } }]);
    await cfs.putConfiguration('failing', [layers[0], { name: 'broken', clone_url: failing.cloneUrl, commit: failing.commit, playbook: 'site.yml' }]);
    const name = uniqueId('fail');
    await cfs.createSession({ name, configuration_name: 'failing', target: { definition: 'image', groups: [{ name: 'image', members: [sourceId] }] } });
    const session = await waitComplete(name);
    expect(session.status?.session?.succeeded).toBe('false');
    expect(session.status?.artifacts).toEqual([]);
  });

  it('waits, pending, for an image IMS does not have, as CFS does', async () => {
    await cfs.putConfiguration('waits', layers.slice(0, 1));
    const name = uniqueId('waits');
    await cfs.createSession({ name, configuration_name: 'waits', target: { definition: 'image', groups: [{ name: 'image', members: ['00000000-0000-0000-0000-000000000000'] }] } });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await cfs.getSession(name)).status?.session?.status).toBe('pending');
    await cfs.deleteSession(name);
    const gone = await h.raw('GET', `/apis/cfs/v3/sessions/${name}`);
    expect(gone.status).toBe(404);
  });

  it('checks a new session in the order CFS does: 409 for a taken name, then 400 for an unknown configuration or a bad target', async () => {
    await cfs.putConfiguration('dupes', layers.slice(0, 1));
    const name = uniqueId('dup');
    const target = { definition: 'spec', groups: [{ name: 'nodes', members: ['x1'] }] };
    await cfs.createSession({ name, configuration_name: 'dupes', target });
    const post = (body: object) => h.raw('POST', '/apis/cfs/v3/sessions', body);
    expect((await post({ name, configuration_name: 'dupes', target })).status).toBe(409);
    expect((await post({ name, configuration_name: 'no-such-config', target })).status).toBe(409);
    expect(await post({ name: uniqueId('x'), configuration_name: 'no-such-config' })).toMatchObject({ status: 400, body: { title: 'Invalid configuration' } });
    const badTargets = [
      { definition: 'image', groups: [] },
      { definition: 'image', groups: [{ name: 'image', members: [] }] },
      { definition: 'image', groups: [{ name: 'image', members: ['not-a-uuid'] }] },
      { definition: 'dynamic', groups: [{ name: 'nodes', members: ['x1'] }] },
    ];
    for (const bad of badTargets) expect((await post({ name: uniqueId('x'), configuration_name: 'dupes', target: bad })).status).toBe(400);
  });

  it('moves a session pending → running → complete', async () => {
    await cfs.putConfiguration('states', layers.slice(0, 1));
    const name = uniqueId('states');
    const created = await cfs.createSession({ name, configuration_name: 'states', target: { definition: 'spec', groups: [{ name: 'nodes', members: ['x1'] }] } });
    const seen = [created.status?.session?.status];
    while (seen.at(-1) !== 'complete') {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const status = (await cfs.getSession(name)).status?.session?.status;
      if (status !== seen.at(-1)) seen.push(status);
    }
    expect(seen).toEqual(['pending', 'running', 'complete']);
    expect((await cfs.getSession(name)).status?.session).toMatchObject({ succeeded: 'true', completion_time: expect.any(String) });
  });

  it('keeps a session running forever under the hang fault, across a restart too, and serves the v2 session paths', async () => {
    const sourceId = await imageInThisSim();
    await cfs.putConfiguration('hangs', layers.slice(0, 1));
    await fetch(`${h.sim.url}/_sim/faults`, { method: 'PUT', body: JSON.stringify({ hangSessions: true }) });
    const name = uniqueId('hang');
    await cfs.createSession({ name, configuration_name: 'hangs', target: { definition: 'image', groups: [{ name: 'image', members: [sourceId] }] } });
    await fetch(`${h.sim.url}/_sim/faults`, { method: 'PUT', body: JSON.stringify({ hangSessions: false }) });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await cfs.getSession(name)).status?.session?.status).toBe('running');
    await h.restart();
    cfs = new CfsClient(h.csm);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await cfs.getSession(name)).status?.session?.status).toBe('running');
    const v2 = await h.raw('GET', `/apis/cfs/v2/sessions/${name}`);
    expect(v2.body).toMatchObject({ name, status: { session: { status: 'running', startTime: expect.any(String) } } });
    expect((await h.raw('DELETE', `/apis/cfs/v2/sessions/${name}`)).status).toBe(204);
    expect((await h.raw('GET', `/apis/cfs/v3/sessions/${name}`)).status).toBe(404);
  });

  it('creates sessions on the v2 path with its camelCase fields (200, as CFS answers there)', async () => {
    await cfs.putConfiguration('v2', layers.slice(0, 1));
    const name = uniqueId('v2');
    const created = await h.raw('POST', '/apis/cfs/v2/sessions', { name, configurationName: 'v2', target: { definition: 'spec', groups: [{ name: 'nodes', members: ['x1'] }] } });
    expect(created).toMatchObject({ status: 200, body: { name, configuration: { name: 'v2' }, status: { session: { status: 'pending' } } } });
    expect(((await h.raw('GET', '/apis/cfs/v2/sessions')).body as { name: string }[]).map((s) => s.name)).toContain(name);
  });
});
