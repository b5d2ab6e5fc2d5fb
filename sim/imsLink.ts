// IMS v3's checks of an image link, in the order IMS makes them (validate_image_manifest in the IMS
// server's helper.py): the link path is no other image's (422); the manifest object exists (HEAD,
// 422); it is read; its version is "1.0" (422); every artifact is well formed and exists in S3
// (422); exactly one artifact is a rootfs (400 for none or several). A link etag is never compared
// with S3's. A manifest that exists but cannot be read or parsed is not an error here: IMS raises,
// and PATCH swallows that (storing the link) while POST does not (a 500).
import { parseS3Url, rootfsTypePrefix } from '../lib/manifest';
import { problem } from './http';
import type { SimS3 } from './s3';
import type { ImageRecord } from './store';

export type ImageLink = NonNullable<ImageRecord['link']>;

const retry = 'Please determine the specific information that is missing or invalid and then re-run the request with valid information.';
const unprocessable = (detail: string) => problem(422, 'Unprocessable Entity', detail);
const malformed = (detail: string) => unprocessable(`The image's manifest.json is malformed. ${detail}`);

/** Resolves to 'unreadable' when IMS could not read the manifest, 'valid' when every check passed. */
export async function checkImageLink(s3: SimS3, link: ImageLink, images: ImageRecord[]): Promise<'valid' | 'unreadable'> {
  const owner = images.find((image) => image.link?.path === link.path);
  if (owner) throw unprocessable(`The link path ${link.path} matches the link path for the IMS image record ${owner.id}. The link value must be unique and cannot be duplicated. ${retry}`);
  await requireObjectInS3(s3, link);

  let manifest: unknown;
  try {
    manifest = await s3.getJson(link.path);
  } catch {
    return 'unreadable';
  }
  if (!manifest || typeof manifest !== 'object') return 'valid'; // IMS validates only a truthy manifest
  const { version, artifacts } = manifest as { version?: unknown; artifacts?: unknown };
  if (version === undefined) throw unprocessable("The image's manifest.json does not contain a version field.");
  if (version !== '1.0') throw unprocessable(`The image's manifest.json has a version that is not supported. Supported image manifest versions are: 1.0`);
  if (artifacts === undefined) throw malformed('It does not contain an artifacts map.');
  if (!Array.isArray(artifacts)) throw malformed('The artifacts property is not a json list.');

  for (const artifact of artifacts as unknown[]) {
    if (!artifact || typeof artifact !== 'object' || Array.isArray(artifact)) throw malformed('A listed artifact is not a json dictionary.');
    const artifactLink = (artifact as { link?: Partial<ImageLink> }).link;
    if (!artifactLink) throw malformed('An artifact does not have a link value');
    if (artifactLink.type === undefined) throw malformed('An artifact does not have a link type field');
    if (artifactLink.type !== 's3') throw malformed(`An artifact link type '${artifactLink.type}' not supported`);
    if (artifactLink.path === undefined) throw malformed('An artifact does not have a link path field');
    await requireObjectInS3(s3, artifactLink as ImageLink);
  }
  const types = (artifacts as { type?: unknown }[]).map((artifact) => artifact.type);
  if (types.some((type) => typeof type !== 'string')) throw malformed('An artifact does not have a type field');
  const rootfsCount = (types as string[]).filter((type) => type.startsWith(rootfsTypePrefix)).length;
  if (rootfsCount === 0) throw problem(400, 'Bad Request', `Error reading the manifest.json for IMS ${link.path}. The manifest does not include any rootfs artifacts. ${retry}`);
  if (rootfsCount > 1) throw problem(400, 'Bad Request', `Error reading the manifest.json for ${link.path}. The manifest includes multiple rootfs artifacts. ${retry}`);
  return 'valid';
}

async function requireObjectInS3(s3: SimS3, link: ImageLink): Promise<void> {
  const found = link.type === 's3' && isS3Url(link.path) && (await s3.head(link.path));
  if (!found) throw unprocessable(`The s3 artifact ${JSON.stringify(link)} cannot be validated. ${retry}`);
}

function isS3Url(path: unknown): boolean {
  try {
    parseS3Url(String(path));
    return true;
  } catch {
    return false;
  }
}
