// The IMS image manifest (version 1.0) and the checks that keep SBPS from crashing on it
// (seed 000: a rootfs without `link.etag`). Pure: used by workflows and activities alike.
import { z } from 'zod';

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

/** Problems that make a manifest unusable whatever its etags (DESIGN §5: ManifestInvalid). */
export function structuralProblems(raw: unknown): string[] {
  const parsed = Manifest.safeParse(raw);
  if (!parsed.success) return parsed.error.issues.map((i) => `${i.path.join('.') || 'manifest'}: ${i.message}`);
  const problems: string[] = [];
  if (parsed.data.version !== '1.0') problems.push(`version is ${JSON.stringify(parsed.data.version)}, expected "1.0"`);
  const rootfs = parsed.data.artifacts.filter((a) => a.type.startsWith(rootfsTypePrefix));
  if (rootfs.length !== 1) problems.push(`${rootfs.length} rootfs artifacts (types starting with ${rootfsTypePrefix}); exactly one is required`);
  for (const artifact of parsed.data.artifacts) {
    if (artifact.link.type !== 's3') problems.push(`${artifact.link.path}: link type ${JSON.stringify(artifact.link.type)}, expected "s3"`);
    else {
      try {
        parseS3Url(artifact.link.path);
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
  }
  return problems;
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
