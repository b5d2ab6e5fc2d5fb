// Manifest rewrites against the real S3 server racing each other: conditional writes (If-Match on
// the etag read) and a fresh read after a lost race, so no rewrite is lost.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createManifestActivities } from '../activities/manifest/activities';
import { ObjectChanged, ObjectStore } from '../activities/manifest/objectStore';
import { createS3Client } from '../activities/s3/client';
import { devStack } from '../dev/config';
import { MediaType, type Manifest } from '../lib/manifest';

const s3 = createS3Client(devStack.s3);
const store = new ObjectStore(s3);
const manifests = createManifestActivities(store);

async function putImage(options: { rootfsEtag: boolean }) {
  const id = randomUUID();
  const put = await s3.send(new PutObjectCommand({ Bucket: 'boot-images', Key: `${id}/rootfs`, Body: `rootfs of ${id}\n` }));
  const etag = put.ETag!.replaceAll('"', '');
  const manifestPath = `s3://boot-images/${id}/manifest.json`;
  const manifest: Manifest = {
    version: '1.0',
    artifacts: [{ link: { path: `s3://boot-images/${id}/rootfs`, type: 's3', ...(options.rootfsEtag ? { etag } : {}) }, md5: etag, type: MediaType.rootfs }],
  };
  await store.putJson(manifestPath, manifest);
  return { id, manifestPath, etag };
}

const extra = (id: string, n: number) => ({ link: { path: `s3://boot-images/${id}/extra-${n}`, type: 's3' as const, etag: `e${n}` }, type: `application/vnd.test.extra-${n}` });
const stored = async (manifestPath: string) => JSON.parse(await store.getText(manifestPath)) as Manifest;

describe('manifest rewrites under races', () => {
  it('a write conditional on a stale etag is refused (the server honours If-Match)', async () => {
    const { manifestPath } = await putImage({ rootfsEtag: true });
    const read = await store.getVersioned(manifestPath);
    await store.putJson(manifestPath, { ...(await stored(manifestPath)), note: 'someone else' });
    await expect(store.putJson(manifestPath, JSON.parse(read!.text), { ifMatch: read!.etag })).rejects.toBeInstanceOf(ObjectChanged);
    expect((await stored(manifestPath)) as unknown).toMatchObject({ note: 'someone else' });
  });

  it('eight writers adding an artifact each at once: every artifact is in the manifest', async () => {
    const { id, manifestPath } = await putImage({ rootfsEtag: true });
    await Promise.all(Array.from({ length: 8 }, (_, n) => manifests.putManifestArtifact({ manifestPath, artifact: extra(id, n) })));
    const types = (await stored(manifestPath)).artifacts.map((a) => a.type).sort();
    expect(types).toEqual([MediaType.rootfs, ...Array.from({ length: 8 }, (_, n) => `application/vnd.test.extra-${n}`)].sort());
  });

  it('a repair racing artifact writes keeps both: the repaired etag and every artifact', async () => {
    const { id, manifestPath, etag } = await putImage({ rootfsEtag: false });
    await Promise.all([
      ...Array.from({ length: 4 }, (_, n) => manifests.putManifestArtifact({ manifestPath, artifact: extra(id, n) })),
      manifests.repairManifest({ manifestPath }),
      manifests.repairManifest({ manifestPath }),
    ]);
    const after = await stored(manifestPath);
    expect(after.artifacts.find((a) => a.type === MediaType.rootfs)!.link.etag).toBe(etag);
    expect(after.artifacts).toHaveLength(5);
  });
});
