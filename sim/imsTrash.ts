// What IMS v3 does in S3 when an image is soft-deleted, undeleted, or deleted for good (the image
// resources of the IMS server): a soft delete moves every artifact the manifest lists, and the
// manifest itself, under `deleted/` in the same bucket, and links the deleted record to a new
// `deleted/<id>/deleted_manifest.json` saying where they went; undelete moves them back and links
// the original manifest again; a permanent delete removes what the linked manifest lists. A
// manifest that cannot be read leaves S3 and the link as they are; a missing artifact is skipped.
import { parseS3Url, s3Url } from '../lib/manifest';
import { problem } from './http';
import type { ImageLink } from './imsLink';
import type { SimS3 } from './s3';

const trash = 'deleted';
const manifestType = 'application/vnd.cray.image.manifest';

interface ListedArtifact {
  type?: string;
  md5?: string;
  link?: ImageLink;
}

async function readArtifacts(s3: SimS3, link: ImageLink): Promise<ListedArtifact[] | undefined> {
  try {
    const manifest = (await s3.getJson(link.path)) as { artifacts?: unknown };
    return Array.isArray(manifest?.artifacts) ? (manifest.artifacts as ListedArtifact[]) : undefined;
  } catch {
    return undefined;
  }
}

async function move(s3: SimS3, link: ImageLink, toKey: (key: string) => string): Promise<ImageLink> {
  const from = parseS3Url(link.path);
  const to = s3Url({ bucket: from.bucket, key: toKey(from.key) });
  return { path: to, etag: await s3.move(link.path, to), type: 's3' };
}

const intoTrash = (key: string) => `${trash}/${key}`;
function outOfTrash(key: string): string {
  if (!key.startsWith(trash)) throw new Error(`${key} is not under ${trash}/`);
  return key.slice(trash.length).replace(/^\/+/, '');
}

/** Soft delete: the link the deleted record gets. */
export async function trashArtifacts(s3: SimS3, imageId: string, link: ImageLink): Promise<ImageLink> {
  const artifacts = await readArtifacts(s3, link);
  if (!artifacts) return link;
  const moved = [];
  for (const artifact of artifacts) {
    if (!artifact?.link) continue;
    const to = await move(s3, artifact.link, intoTrash).catch(() => undefined);
    if (to) moved.push({ type: artifact.type, md5: artifact.md5, link: to });
  }
  moved.push({ type: manifestType, link: await move(s3, link, intoTrash) });
  const deletedManifest = s3Url({ bucket: parseS3Url(link.path).bucket, key: `${trash}/${imageId}/deleted_manifest.json` });
  await s3.put(deletedManifest, JSON.stringify({ version: '1.0', created: new Date().toISOString(), artifacts: moved }), 'application/json');
  return { path: deletedManifest, type: link.type };
}

/** Undelete: the link the image gets back (422 when the deleted manifest cannot be read). */
export async function restoreArtifacts(s3: SimS3, link: ImageLink): Promise<ImageLink> {
  const artifacts = await readArtifacts(s3, link);
  if (!artifacts) throw problem(422, 'Unprocessable Entity', `Unable to read manifest file for the s3 artifact ${JSON.stringify(link)}, or it has no artifacts section.`);
  let original = link;
  for (const artifact of artifacts) {
    if (!artifact?.link) continue;
    const back = await move(s3, artifact.link, outOfTrash).catch(() => undefined);
    if (back && artifact.type === manifestType) original = back;
  }
  if (original !== link) await s3.delete(link.path);
  return original;
}

/** Permanent delete of a deleted image's objects. */
export async function purgeArtifacts(s3: SimS3, link: ImageLink): Promise<void> {
  const artifacts = await readArtifacts(s3, link);
  if (!artifacts) return;
  for (const artifact of artifacts) if (artifact?.link) await s3.delete(artifact.link.path).catch(() => undefined);
  await s3.delete(link.path);
}
