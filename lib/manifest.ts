// The IMS image manifest (version 1.0) and the checks that keep SBPS from crashing on it
// (seed 000: a rootfs without `link.etag`). Pure: used by workflows and activities alike.
import { z } from 'zod';
import { maxInputDepth, nestingDepth } from './parseInput';

export const MediaType = {
  rootfs: 'application/vnd.cray.image.rootfs.squashfs',
  kernel: 'application/vnd.cray.image.kernel',
  initrd: 'application/vnd.cray.image.initrd',
  /** A LUKS container of the rootfs: deliberately not `...rootfs.squashfs*`, since IMS allows one rootfs. */
  rootfsLuks: 'application/vnd.cray.image.rootfs.luks',
} as const;

/** IMS counts every artifact whose type starts with this as a rootfs, and allows only one. */
export const rootfsTypePrefix = MediaType.rootfs;

// Loose: fields we do not know (a site's own, our `luks` record) survive a repair's rewrite.
export const ManifestArtifact = z.looseObject({
  link: z.object({
    path: z.string().min(1),
    etag: z.string().nullable().optional(),
    type: z.string(),
  }),
  md5: z.string().optional(),
  type: z.string().min(1),
});
export type ManifestArtifact = z.infer<typeof ManifestArtifact>;

export const Manifest = z.looseObject({
  version: z.string(),
  created: z.string().optional(),
  artifacts: z.array(ManifestArtifact),
});
export type Manifest = z.infer<typeof Manifest>;

export interface S3Location {
  bucket: string;
  key: string;
}

export function parseS3Url(url: string): S3Location {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/.exec(url);
  if (!match) throw new Error(`not an s3://bucket/key URL: ${JSON.stringify(url)}`);
  return { bucket: match[1], key: match[2] };
}

export const s3Url = ({ bucket, key }: S3Location) => `s3://${bucket}/${key}`;

/** Far more than an image has (IMS writes three to five): each artifact costs a HEAD on every check. */
export const maxArtifacts = 100;
/** A manifest is a few KiB; a larger object is not one and is not read. */
export const maxManifestBytes = 1 << 20;

/** Problems that make a manifest unusable whatever its etags (DESIGN §5: ManifestInvalid). */
export function structuralProblems(raw: unknown): string[] {
  if (nestingDepth(raw) > maxInputDepth) return [`nested more than ${maxInputDepth} levels deep`];
  const parsed = Manifest.safeParse(raw);
  if (!parsed.success) return parsed.error.issues.map((i) => `${i.path.join('.') || 'manifest'}: ${i.message}`);
  const problems: string[] = [];
  if (parsed.data.version !== '1.0') problems.push(`version is ${JSON.stringify(parsed.data.version)}, expected "1.0"`);
  if (parsed.data.artifacts.length > maxArtifacts) return [...problems, `${parsed.data.artifacts.length} artifacts; a manifest has at most ${maxArtifacts}`];
  const rootfs = parsed.data.artifacts.filter((a) => a.type.startsWith(rootfsTypePrefix));
  if (rootfs.length !== 1) problems.push(`${rootfs.length} rootfs artifacts (types starting with ${rootfsTypePrefix}); exactly one is required`);
  for (const artifact of parsed.data.artifacts) {
    const { path } = artifact.link;
    if (artifact.link.type !== 's3') problems.push(`${path}: link type ${JSON.stringify(artifact.link.type)}, expected "s3"`);
    else problems.push(...s3KeyProblems(path));
    if (artifact.md5 !== undefined && !/^[0-9a-f]{32}$/.test(artifact.md5)) problems.push(`${path}: md5 ${JSON.stringify(artifact.md5.slice(0, 40))} is not 32 lowercase hex digits`);
  }
  return problems;
}

/**
 * An s3:// URL whose key S3 servers read alike: some resolve `.` and `..` segments as a path would
 * (another object than the one named), and S3 keys stop at 1,024 bytes.
 */
function s3KeyProblems(url: string): string[] {
  let key: string;
  try {
    key = parseS3Url(url).key;
  } catch (error) {
    return [(error as Error).message];
  }
  if (/[\u0000-\u001f\u007f]/.test(key)) return [`${JSON.stringify(url)}: the key holds control characters`];
  if (key.split('/').some((segment) => segment === '.' || segment === '..')) return [`${JSON.stringify(url)}: the key has a "." or ".." segment, which some S3 servers resolve to another object`];
  if (Buffer.byteLength(key) > 1024) return [`${JSON.stringify(url.slice(0, 80))}…: the key is ${Buffer.byteLength(key)} bytes; S3 keys are at most 1,024`];
  return [];
}

/** The manifest a stored object's text holds, or every reason it holds none (ManifestInvalid). */
export function parseManifestText(text: string): { manifest: Manifest; problems: [] } | { manifest?: undefined; problems: string[] } {
  const encoding = encodingProblem(text);
  if (encoding) return { problems: [encoding] };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { problems: [error instanceof RangeError ? `the object is nested too deeply to read (more than ${maxInputDepth} levels is refused)` : `the object is not JSON: ${(error as Error).message}`] };
  }
  const problems = structuralProblems(raw);
  return problems.length ? { problems } : { manifest: Manifest.parse(raw), problems: [] };
}

/** IMS and SBPS read manifests as UTF-8 JSON without a byte order mark. */
function encodingProblem(text: string): string | undefined {
  if (text.trim() === '') return 'the object is empty';
  if (text.includes('\0')) return text.startsWith('\uFFFD\uFFFD') ? 'the object is UTF-16: write it as UTF-8' : 'the object holds NUL characters (UTF-16?): write it as UTF-8';
  if (text.startsWith('\uFEFF')) return 'the object starts with a byte order mark, which IMS and SBPS do not read: write it as UTF-8 without one';
  if (text.includes('\uFFFD')) return 'the object is not valid UTF-8';
  return undefined;
}

export type EtagFault =
  | { path: string; kind: 'etag-missing' | 'etag-null'; actual: string }
  | { path: string; kind: 'etag-stale'; recorded: string; actual: string };

export type ArtifactProblem = { path: string; kind: 'object-missing' } | { path: string; kind: 'md5-mismatch'; recorded: string; actual: string };

/**
 * Compares each artifact's recorded etag with S3's (quotes stripped). `actualEtags` maps
 * link.path to the etag S3 reports, or null when the object is missing.
 */
export function etagFaults(manifest: Manifest, actualEtags: Record<string, string | null>): { fixable: EtagFault[]; unfixable: ArtifactProblem[] } {
  const fixable: EtagFault[] = [];
  const unfixable: ArtifactProblem[] = [];
  for (const { link } of manifest.artifacts) {
    const actual = actualEtags[link.path];
    if (actual === null || actual === undefined) unfixable.push({ path: link.path, kind: 'object-missing' });
    else if (link.etag === undefined) fixable.push({ path: link.path, kind: 'etag-missing', actual });
    else if (link.etag === null) fixable.push({ path: link.path, kind: 'etag-null', actual });
    else if (stripQuotes(link.etag) !== actual) fixable.push({ path: link.path, kind: 'etag-stale', recorded: link.etag, actual });
  }
  return { fixable, unfixable };
}

export const stripQuotes = (etag: string) => etag.replaceAll('"', '');

/** The same manifest with every artifact's etag set to S3's. */
export function withActualEtags(manifest: Manifest, actualEtags: Record<string, string | null>): Manifest {
  return {
    ...manifest,
    artifacts: manifest.artifacts.map((artifact) => {
      const actual = actualEtags[artifact.link.path];
      return actual ? { ...artifact, link: { ...artifact.link, etag: actual } } : artifact;
    }),
  };
}

export const rootfsArtifact = (manifest: Manifest) => manifest.artifacts.find((a) => a.type.startsWith(rootfsTypePrefix));
