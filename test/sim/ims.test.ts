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

  const dropRequestViolations = () => {
    const kept = h.violations.splice(0).map((v) => ({ ...v, problems: v.problems.filter((p) => !p.startsWith('request ')) }));
    h.violations.push(...kept.filter((v) => v.problems.length));
  };

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

  it('rejects a readable manifest with the wrong version or a missing artifact (422), zero or two rootfs (400)', async () => {
    const cases = [
      { manifest: await manifestIn({ version: '2.0' }), status: 422, detail: /version that is not supported/ },
      { manifest: await manifestIn({ missingArtifact: true }), status: 422, detail: /artifact-1.*cannot be validated/ },
      { manifest: await manifestIn({ types: [MediaType.kernel] }), status: 400, detail: /does not include any rootfs artifacts/ },
      { manifest: await manifestIn({ types: [MediaType.rootfs, `${MediaType.rootfs}.encrypted`] }), status: 400, detail: /multiple rootfs artifacts/ },
    ];
    for (const { manifest, status, detail } of cases) {
      const image = await ims.createImage({ name: 'invalid-manifest' });
      const answer = await h.raw('PATCH', `/apis/ims/v3/images/${image.id}`, { link: { path: manifest.path, etag: manifest.etag, type: 's3' } });
      expect(answer).toMatchObject({ status, body: { status, detail: expect.stringMatching(detail) } });
      expect((await ims.getImage(image.id)).link).toBeUndefined();
    }
  });

  it('rejects a link to a manifest that is not in S3 (422)', async () => {
    const image = await ims.createImage({ name: 'no-manifest' });
    const answer = await h.raw('PATCH', `/apis/ims/v3/images/${image.id}`, { link: { path: `s3://boot-images/${uniqueId('absent')}/manifest.json`, etag: 'x', type: 's3' } });
    expect(answer).toMatchObject({ status: 422, body: { detail: expect.stringContaining('cannot be validated') } });
  });

  it('rejects a link path another image already has (422)', async () => {
    const manifest = await manifestIn();
    const link = { path: manifest.path, etag: manifest.etag, type: 's3' };
    await ims.patchImage((await ims.createImage({ name: 'first-owner' })).id, { link });
    const second = await ims.createImage({ name: 'second-owner' });
    const answer = await h.raw('PATCH', `/apis/ims/v3/images/${second.id}`, { link });
    expect(answer).toMatchObject({ status: 422, body: { detail: expect.stringContaining('must be unique') } });
  });

  it('stores a link to an unreadable manifest anyway on PATCH, as IMS v3 does, but fails it on POST (500)', async () => {
    const image = await ims.createImage({ name: 'unreadable' });
    const manifest = await manifestIn({ raw: 'this is not json' });
    const stored = await ims.patchImage(image.id, { link: { path: manifest.path, etag: 'x', type: 's3' } });
    expect(stored.link?.path).toBe(manifest.path);
    const other = await manifestIn({ raw: '{ truncated' });
    const posted = await h.raw('POST', '/apis/ims/v3/images', { name: 'unreadable-post', link: { path: other.path, etag: 'x', type: 's3' } });
    expect(posted).toMatchObject({ status: 500, body: { status: 500, title: 'Internal Server Error' } });
  });

  it("patches metadata with one {operation, key, value} as ims.yaml has it, or the server's annotations list", async () => {
    const image = await ims.createImage({ name: 'annotated', metadata: { key: 'a', value: '1' } });
    const url = `/apis/ims/v3/images/${image.id}`;
    expect((await h.raw('PATCH', url, { metadata: { operation: 'set', key: 'b', value: '2' } })).body).toMatchObject({ metadata: { a: '1', b: '2' } });
    expect((await h.raw('PATCH', url, { metadata: { operation: 'remove', key: 'a' } })).body).toEqual(expect.objectContaining({ metadata: { b: '2' } }));
    expect((await h.raw('PATCH', url, { metadata: { annotations: [{ operation: 'set', key: 'c', value: '3' }] } })).body).toMatchObject({ metadata: { b: '2', c: '3' } });
    expect((await h.raw('PATCH', url, { metadata: { operation: 'rename', key: 'b' } })).status).toBe(422);
    dropRequestViolations(); // the annotations list and the bad operation break the spec on purpose; the answers must not
  });

  it('soft-deletes into /deleted/images, moving the objects under deleted/ in S3, undeletes back, and purges', async () => {
    const image = await ims.createImage({ name: 'to-delete', arch: 'aarch64' });
    const manifest = await manifestIn();
    await ims.patchImage(image.id, { link: { path: manifest.path, etag: manifest.etag, type: 's3' } });
    const artifactPath = manifest.path.replace('manifest.json', 'artifact-0');
    const trashed = (url: string) => url.replace('s3://boot-images/', 's3://boot-images/deleted/');

    expect((await h.raw('DELETE', `/apis/ims/v3/images/${image.id}`)).status).toBe(204);
    const gone = await h.raw('GET', `/apis/ims/v3/images/${image.id}`);
    expect(gone).toMatchObject({ status: 404, body: { status: 404, title: 'Not Found', type: 'about:blank' } });
    const deleted = await h.raw('GET', `/apis/ims/v3/deleted/images/${image.id}`);
    expect(deleted.body).toMatchObject({ id: image.id, name: 'to-delete', deleted: expect.any(String), link: { path: `s3://boot-images/deleted/${image.id}/deleted_manifest.json`, type: 's3' } });
    expect(await objectStore.head(manifest.path)).toBeNull();
    expect(await objectStore.head(artifactPath)).toBeNull();
    expect(await objectStore.head(trashed(artifactPath))).not.toBeNull();

    expect((await h.raw('PATCH', `/apis/ims/v3/deleted/images/${image.id}`, { operation: 'undelete' })).status).toBe(204);
    expect(await ims.getImage(image.id)).toMatchObject({ name: 'to-delete', arch: 'aarch64', link: { path: manifest.path } });
    expect(await objectStore.head(artifactPath)).not.toBeNull();
    expect(await objectStore.head(`s3://boot-images/deleted/${image.id}/deleted_manifest.json`)).toBeNull();

    await h.raw('DELETE', `/apis/ims/v3/images/${image.id}`);
    expect((await h.raw('DELETE', `/apis/ims/v3/deleted/images/${image.id}`)).status).toBe(204);
    expect((await h.raw('GET', `/apis/ims/v3/deleted/images/${image.id}`)).status).toBe(404);
    expect(await objectStore.head(trashed(artifactPath))).toBeNull();
  });

  it('answers bad input with problem JSON naming the field', async () => {
    const answer = await h.raw('POST', '/apis/ims/v3/images', { name: '', arch: 'sparc' });
    expect(answer.status).toBe(422);
    expect(answer.body).toMatchObject({ errors: { name: expect.any(Array), arch: expect.any(Array) } });
    dropRequestViolations(); // the request breaks the spec on purpose; the answer must not
  });

  it('keeps its state across a restart', async () => {
    const image = await ims.createImage({ name: 'durable' });
    await h.restart();
    ims = new ImsClient(h.csm);
    expect((await ims.getImage(image.id)).name).toBe('durable');
  });
});
