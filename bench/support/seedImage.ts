// An IMS image whose manifest links a rootfs uploaded by our uploader (multipart), for benchmarks of the
// phases after import. `remove` deletes its objects in S3 (the manifest and every artifact it links); the
// simulator's image record stays.
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { CsmClient } from '../../activities/csm/client';
import { ImsClient } from '../../activities/ims/client';
import { ObjectStore } from '../../activities/manifest/objectStore';
import { uploadFile } from '../../activities/s3/upload';
import { devStack } from '../../dev/config';
import { MediaType, parseS3Url, type Manifest } from '../../lib/manifest';

export interface BenchImage {
  imageId: string;
  manifestPath: string;
  rootfsUrl: string;
  remove(): Promise<void>;
}

export async function seedBenchImage(s3: S3Client, files: { rootfs: string; kernel?: string; initrd?: string }, name: string): Promise<BenchImage> {
  const prefix = `bench/${randomUUID()}`;
  const bucket = 'boot-images';
  const artifacts: Manifest['artifacts'] = [];
  for (const [kind, file] of Object.entries(files) as [keyof typeof files, string | undefined][]) {
    if (!file) continue;
    const uploaded = await uploadFile(s3, { file, bucket, key: `${prefix}/${kind}`, partSize: 16 * 2 ** 20, partsInFlight: 2 });
    artifacts.push({ link: { path: `s3://${bucket}/${uploaded.key}`, etag: uploaded.etag, type: 's3' }, md5: uploaded.md5, type: MediaType[kind] });
  }
  const rootfsUrl = artifacts[0].link.path;
  const manifest: Manifest = { version: '1.0', created: new Date().toISOString(), artifacts };
  const manifestPath = `s3://${bucket}/${prefix}/manifest.json`;
  const store = new ObjectStore(s3);
  const etag = await store.putJson(manifestPath, manifest);
  const ims = new ImsClient(new CsmClient(devStack.csm));
  const image = await ims.createImage({ name });
  await ims.patchImage(image.id, { link: { path: manifestPath, etag, type: 's3' } });
  return {
    imageId: image.id,
    manifestPath,
    rootfsUrl,
    async remove() {
      const written = JSON.parse(await store.getText(manifestPath)) as Manifest;
      for (const url of [manifestPath, ...written.artifacts.map((a) => a.link.path)]) {
        const { bucket: b, key } = parseS3Url(url);
        await s3.send(new DeleteObjectCommand({ Bucket: b, Key: key })).catch(() => undefined);
      }
    },
  };
}
