import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ImsClient } from '../../activities/ims/client';
import { MediaType } from '../../lib/manifest';
import { objectStore } from '../helpers/images';
import { uniqueId } from '../helpers/temporal';
import { startHarness, type Harness } from './harness';

describe('simulated IMS (held to ims.yaml)', () => {
  let h: Harness;
  let ims: ImsClient;
  beforeAll(async () => {
    h = await startHarness();
    ims = new ImsClient(h.csm);
  });
  afterEach(() => h.expectNoViolations());
  afterAll(() => h.close());

  /** A manifest in the real S3 whose artifacts exist (unless told otherwise). */
  async function manifestIn(options: { version?: string; types?: string[]; missingArtifact?: boolean; raw?: string } = {}) {
    const prefix = `s3://boot-images/${uniqueId('ims-test')}`;
    const types = options.types ?? [MediaType.rootfs, MediaType.kernel];
    const artifacts = [];
    for (const [index, type] of types.entries()) {
      const path = `${prefix}/artifact-${index}`;
      if (!(options.missingArtifact && index === 1)) await objectStore.putJson(path, { index });
      artifacts.push({ link: { path, type: 's3', etag: 'not-checked' }, md5: '0'.repeat(32), type });
    }
    const path = `${prefix}/manifest.json`;
    if (options.raw !== undefined) {
      const { PutObjectCommand } = await import('@aws-sdk/client-s3');
      const { s3 } = await import('../helpers/images');
      await s3.send(new PutObjectCommand({ Bucket: 'boot-images', Key: path.replace('s3://boot-images/', ''), Body: options.raw }));
      return { path, etag: 'whatever' };
    }
    return { path, etag: await objectStore.putJson(path, { version: options.version ?? '1.0', artifacts }) };
  }

  it('creates records with the one metadata pair IMS takes at creation, and lists them', async () => {
    const image = await ims.createImage({ name: 'compute', arch: 'aarch64', metadata: { key: 'orchestrator.request', value: 'r-1' } });
    expect(image).toMatchObject({ name: 'compute', arch: 'aarch64', metadata: { 'orchestrator.request': 'r-1' } });
    expect((await ims.listImages()).map((i) => i.id)).toContain(image.id);
  });

  it('links a valid manifest once: the identical link again is 200, another is 409', async () => {
    const image = await ims.createImage({ name: 'linked' });
    const manifest = await manifestIn();
    const link = { path: manifest.path, etag: manifest.etag, type: 's3' };
    expect((await ims.patchImage(image.id, { link })).link).toEqual(link);
    expect((await ims.patchImage(image.id, { link })).link).toEqual(link);
    const conflict = await h.raw('PATCH', `/apis/ims/v3/images/${image.id}`, { link: { ...link, etag: 'other' } });
    expect(conflict.status).toBe(409);
    expect(conflict.body).toMatchObject({ status: 409, title: 'Conflict' });
  });

  it('stores whatever etag it is given: it never checks it', async () => {
    const image = await ims.createImage({ name: 'etag-unchecked' });
    const manifest = await manifestIn();
    const stored = await ims.patchImage(image.id, { link: { path: manifest.path, etag: 'deadbeef', type: 's3' } });
    expect(stored.link?.etag).toBe('deadbeef');
  });

  it('rejects a readable manifest with the wrong version, zero or two rootfs, or a missing artifact (422)', async () => {
    const cases = [
      await manifestIn({ version: '2.0' }),
      await manifestIn({ types: [MediaType.kernel] }),
      await manifestIn({ types: [MediaType.rootfs, `${MediaType.rootfs}.encrypted`] }),
      await manifestIn({ missingArtifact: true }),
    ];
    const details = [];
    for (const manifest of cases) {
      const image = await ims.createImage({ name: 'invalid-manifest' });
      const answer = await h.raw('PATCH', `/apis/ims/v3/images/${image.id}`, { link: { path: manifest.path, etag: manifest.etag, type: 's3' } });
      expect(answer.status).toBe(422);
      details.push((answer.body as { detail: string }).detail);
    }
    expect(details[0]).toMatch(/version "2.0"/);
    expect(details[1]).toMatch(/0 artifacts of type/);
    expect(details[2]).toMatch(/2 artifacts of type/);
    expect(details[3]).toMatch(/artifact-1: it does not exist in S3/);
  });

  it('stores a link to an unreadable manifest anyway, as IMS v3 does', async () => {
    const image = await ims.createImage({ name: 'unreadable' });
    const manifest = await manifestIn({ raw: 'this is not json' });
    const stored = await ims.patchImage(image.id, { link: { path: manifest.path, etag: 'x', type: 's3' } });
    expect(stored.link?.path).toBe(manifest.path);
  });

  it('soft-deletes into /deleted/images and undeletes back', async () => {
    const image = await ims.createImage({ name: 'to-delete' });
    expect((await h.raw('DELETE', `/apis/ims/v3/images/${image.id}`)).status).toBe(204);
    const gone = await h.raw('GET', `/apis/ims/v3/images/${image.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({ status: 404, title: 'Not Found', type: 'about:blank' });
    const deleted = await h.raw('GET', `/apis/ims/v3/deleted/images/${image.id}`);
    expect(deleted.body).toMatchObject({ id: image.id, name: 'to-delete' });
    expect((await h.raw('PATCH', `/apis/ims/v3/deleted/images/${image.id}`, { operation: 'undelete' })).status).toBe(204);
    expect((await ims.getImage(image.id)).name).toBe('to-delete');
  });

  it('answers bad input with problem JSON naming the field', async () => {
    const answer = await h.raw('POST', '/apis/ims/v3/images', { name: '', arch: 'sparc' });
    expect(answer.status).toBe(422);
    expect(answer.body).toMatchObject({ errors: { name: expect.any(Array), arch: expect.any(Array) } });
    h.violations.length = 0; // the request itself breaks the spec on purpose
  });

  it('keeps its state across a restart', async () => {
    const image = await ims.createImage({ name: 'durable' });
    await h.restart();
    ims = new ImsClient(h.csm);
    expect((await ims.getImage(image.id)).name).toBe('durable');
  });
});
