// importImage: seed 002's manual import, with the etag faults of seed 000 made impossible.
//   1. check every source (nothing is written if one is unusable)
//   2. create the IMS image record (or adopt the one an earlier run of this workflow created)
//   3. upload each artifact to s3://<bucket>/<image id>/<kind>, its md5 and expected ETag computed
//      in the same read and compared with S3's; or digest artifacts already in S3
//   4. write manifest.json with S3's real etags, check it against S3 (repairing etag faults)
//   5. link the manifest in IMS
import { CancellationScope, workflowInfo } from '@temporalio/workflow';
import { MediaType, s3Url, type Manifest, type ManifestArtifact } from '../lib/manifest';
import { ImportSpec, artifactKinds, type ArtifactKind, type ArtifactSource, type ParsedImportSpec } from '../lib/specs/importSpec';
import { FailureType } from '../lib/failures';
import { central, streaming } from './support/activities';
import { attempt } from './support/attempt';
import { parseInput } from './support/input';
import { checkedManifest } from './support/manifests';
import { trackStatus } from './support/status';

export interface ImportResult {
  imageId: string;
  adopted: boolean;
  manifest: { path: string; etag: string; type: 's3' };
  artifacts: ManifestArtifact[];
}

export async function importImage(raw: unknown): Promise<ImportResult> {
  const spec = await parseInput(ImportSpec, raw, 'import spec');
  const status = trackStatus('import', { imageName: spec.name });
  const sources = artifactKinds.flatMap((kind) => (spec[kind] ? [{ kind, source: spec[kind] }] : []));

  status.step('check sources');
  await attempt('check sources', (label) => central(label).checkImportSources({ sources }));

  status.step('create IMS image record');
  const image = await attempt('create IMS image record', (label) =>
    central(label).ensureImage({ name: spec.name, arch: spec.arch, requestId: workflowInfo().workflowId }),
  );
  status.setImage(image.id);
  if (image.link) {
    // An earlier run of this request got as far as linking: check its manifest, change nothing.
    const manifestPath = image.link.path;
    status.step('check manifest of the adopted image');
    const checked = await checkedManifest(manifestPath);
    status.step('done');
    return { imageId: image.id, adopted: true, manifest: checked.link, artifacts: checked.manifest.artifacts };
  }

  const artifacts: ManifestArtifact[] = [];
  for (const { kind, source } of sources) {
    status.step(`${'file' in source ? 'upload' : 'digest'} ${kind}`);
    artifacts.push(await importArtifact(spec, image.id, kind, source));
  }

  const manifestPath = s3Url({ bucket: spec.bucket, key: `${image.id}/manifest.json` });
  const manifest: Manifest = { version: '1.0', created: new Date().toISOString(), artifacts };
  status.step('write manifest');
  await attempt('write manifest', (label) => central(label).writeManifest({ manifestPath, manifest }));
  status.step('check manifest');
  const checked = await checkedManifest(manifestPath);

  status.step('link manifest in IMS');
  await attempt('link manifest in IMS', (label) => central(label).linkManifest({ imageId: image.id, link: checked.link }));
  status.step('done');
  return { imageId: image.id, adopted: image.adopted, manifest: checked.link, artifacts };
}

const mediaTypes: Record<ArtifactKind, string> = { rootfs: MediaType.rootfs, kernel: MediaType.kernel, initrd: MediaType.initrd };

async function importArtifact(spec: ParsedImportSpec, imageId: string, kind: ArtifactKind, source: ArtifactSource): Promise<ManifestArtifact> {
  if ('s3' in source) {
    // Seed 002: artifacts already in S3 stay where they are; md5 and etag still come from the data.
    const digest = await attempt(`digest ${kind}`, (label) => streaming(label).digestObject({ url: source.s3 }));
    return { link: { path: source.s3, etag: digest.etag, type: 's3' }, md5: digest.md5, type: mediaTypes[kind] };
  }
  const destination = { bucket: spec.bucket, key: `${imageId}/${kind}` };
  const uploaded = await attempt(
    `upload ${kind}`,
    (label, previous) => streaming(label).uploadArtifact({ file: source.file, ...destination, partSizeMiB: spec.partSizeMiB, resume: previous?.heartbeatDetails }),
    { maxAttemptsByType: { [FailureType.ArtifactCorrupt]: 3 } },
  ).catch(async (error) => {
    // Given up or cancelled: leave no multipart upload behind (a retry above resumes instead).
    await CancellationScope.nonCancellable(() => attempt(`abort upload of ${kind}`, (label) => central(label).abortUpload(destination)));
    throw error;
  });
  return { link: { path: s3Url(destination), etag: uploaded.etag, type: 's3' }, md5: uploaded.md5, type: mediaTypes[kind] };
}
