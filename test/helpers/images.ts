// Puts an image straight into S3 and IMS (no workflow), for tests of the phases after import.
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { devStack } from '../../dev/config';
import { CsmClient } from '../../activities/csm/client';
import { ImsClient } from '../../activities/ims/client';
import { createS3Client } from '../../activities/s3/client';
import { ObjectStore } from '../../activities/manifest/objectStore';
import { MediaType, parseS3Url, type Manifest, type ManifestArtifact } from '../../lib/manifest';

export const s3 = createS3Client(devStack.s3);

/** An object of the dev stack's S3, read as JSON (reports, manifests). */
export async function readS3Json(url: string): Promise<any> {
  const { bucket, key } = parseS3Url(url);
  return JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString());
}
export const objectStore = new ObjectStore(s3);
export const ims = new ImsClient(new CsmClient(devStack.csm));

export interface SeededImage {
  imageId: string;
  manifestPath: string;
  manifest: Manifest;
}

/**
 * Uploads the files (single PUTs), writes a manifest (`edit` may damage it on purpose, as seed 000
 * found them), and creates the IMS image linked to it.
 */
export async function seedImage(
  files: { rootfs: string; rootfsLuks?: string; kernel?: string; initrd?: string },
  options: { name?: string; edit?: (manifest: Manifest) => unknown; link?: boolean } = {},
): Promise<SeededImage> {
  const prefix = randomUUID();
  const artifacts: ManifestArtifact[] = [];
  for (const [kind, file] of Object.entries(files)) {
    if (!file) continue;
    const body = fs.readFileSync(file);
    const key = `${prefix}/${kind}`;
    const put = await s3.send(new PutObjectCommand({ Bucket: 'boot-images', Key: key, Body: body }));
    artifacts.push({
      link: { path: `s3://boot-images/${key}`, etag: put.ETag!.replaceAll('"', ''), type: 's3' },
      md5: createHash('md5').update(body).digest('hex'),
      type: MediaType[kind as keyof typeof MediaType],
    });
  }
  const manifest: Manifest = { version: '1.0', created: new Date().toISOString(), artifacts };
  const manifestPath = `s3://boot-images/${prefix}/manifest.json`;
  const written = structuredClone(manifest);
  const etag = await objectStore.putJson(manifestPath, options.edit?.(written) ?? written);
  const image = await ims.createImage({ name: options.name ?? `test-${prefix.slice(0, 8)}` });
  if (options.link !== false) await ims.patchImage(image.id, { link: { path: manifestPath, etag, type: 's3' } });
  return { imageId: image.id, manifestPath, manifest };
}
