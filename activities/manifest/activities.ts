// Manifest activities: write, check against S3, and repair in place (seed 000, steps 1-2).
import { FailureType, permanentFailure, transientFailure } from '../../lib/failures';
import {
  etagFaults,
  maxManifestBytes,
  parseManifestText,
  structuralProblems,
  withActualEtags,
  type ArtifactProblem,
  type Manifest,
  type EtagFault,
  type ManifestArtifact,
} from '../../lib/manifest';
import { ObjectChanged, ObjectTooLarge, type ObjectStore } from './objectStore';

/** Lost races in a row before a rewrite gives up (transient: the workflow tries again later). */
const maxRaces = 10;

export interface ManifestLink {
  path: string;
  etag: string;
  type: 's3';
}

export interface ManifestReport {
  manifestPath: string;
  /** Etag faults found (and fixed, unless a dry run). */
  etagFaults: EtagFault[];
  /** What no rewrite can fix: missing objects, md5 mismatches. */
  unfixable: ArtifactProblem[];
  /** Why the manifest itself is unusable (not JSON, wrong version, 0 or >1 rootfs). */
  invalid: string[];
  rewritten: boolean;
  manifestEtag: string | null;
}

/** The manifest at `manifestPath` and the etag of the version read (a rewrite is conditional on it), or why it is unusable. */
export async function readManifestAt(store: ObjectStore, manifestPath: string): Promise<{ manifest?: Manifest; invalid: string[]; etag?: string }> {
  let read: Awaited<ReturnType<ObjectStore['getVersioned']>>;
  try {
    read = await store.getVersioned(manifestPath, { maxBytes: maxManifestBytes });
  } catch (error) {
    if (error instanceof ObjectTooLarge) return { invalid: [`the object is ${error.size} bytes; a manifest is at most ${maxManifestBytes}`] };
    throw error;
  }
  if (!read) return { invalid: [`manifest ${manifestPath} does not exist`] };
  const { manifest, problems } = parseManifestText(read.text);
  return manifest ? { manifest, invalid: [], etag: read.etag } : { invalid: problems, etag: read.etag };
}

export function createManifestActivities(store: ObjectStore) {
  const readManifest = (manifestPath: string) => readManifestAt(store, manifestPath);

  /**
   * Read, change, write only if nobody wrote in between (If-Match on the etag read); a lost race
   * starts again from a fresh read, so no concurrent rewrite is lost.
   */
  async function rewrite<T>(manifestPath: string, change: (read: Awaited<ReturnType<typeof readManifest>>) => Promise<{ write?: Manifest; result: T }>): Promise<T> {
    for (let race = 1; ; race++) {
      const read = await readManifest(manifestPath);
      const { write, result } = await change(read);
      if (!write) return result;
      try {
        await store.putJson(manifestPath, write, { ifMatch: read.etag });
        return result;
      } catch (error) {
        if (!(error instanceof ObjectChanged)) throw error;
        if (race >= maxRaces) throw transientFailure(FailureType.ManifestWriteConflict, `${error.message}, ${race} times in a row`);
      }
    }
  }

  async function actualEtags(manifest: Manifest): Promise<Record<string, string | null>> {
    const heads = await Promise.all(manifest.artifacts.map(async ({ link, md5 }) => ({ link, md5, head: await store.head(link.path) })));
    return Object.fromEntries(heads.map(({ link, head }) => [link.path, head?.etag ?? null]));
  }

  /** A single-part object's ETag is its md5: a cheap proof the manifest's md5 is wrong. */
  function md5Mismatches(manifest: Manifest, etags: Record<string, string | null>): ArtifactProblem[] {
    return manifest.artifacts.flatMap(({ link, md5 }) => {
      const actual = etags[link.path];
      return md5 && actual && !actual.includes('-') && actual !== md5 ? [{ path: link.path, kind: 'md5-mismatch' as const, recorded: md5, actual }] : [];
    });
  }

  async function inspect(read: Awaited<ReturnType<typeof readManifest>>) {
    const { manifest, invalid } = read;
    if (!manifest) return { invalid, etags: {}, fixable: [], unfixable: [] };
    const etags = await actualEtags(manifest);
    const { fixable, unfixable } = etagFaults(manifest, etags);
    return { manifest, invalid, etags, fixable, unfixable: [...unfixable, ...md5Mismatches(manifest, etags)] };
  }

  return {
    /** Writes the manifest and returns the link IMS gets: path and the manifest object's real ETag. */
    async writeManifest(input: { manifestPath: string; manifest: Manifest }): Promise<ManifestLink> {
      const problems = structuralProblems(input.manifest);
      if (problems.length) throw permanentFailure(FailureType.ManifestInvalid, `refusing to write ${input.manifestPath}: ${problems.join('; ')}`, { problems });
      const etag = await store.putJson(input.manifestPath, input.manifest);
      return { path: input.manifestPath, etag, type: 's3' };
    },

    /**
     * Passes when every artifact exists and its etag equals S3's. Etag faults fail with
     * ManifestEtagFault (the workflow repairs and retries); the rest with ManifestInvalid.
     */
    async checkManifest(input: { manifestPath: string }): Promise<{ manifest: Manifest; link: ManifestLink }> {
      const read = await readManifest(input.manifestPath);
      const { manifest, invalid, fixable, unfixable } = await inspect(read);
      if (!manifest || invalid.length || unfixable.length) {
        const reasons = [...invalid, ...unfixable.map(describeProblem)];
        throw permanentFailure(FailureType.ManifestInvalid, `${input.manifestPath}: ${reasons.join('; ')}`, { reasons });
      }
      if (fixable.length) {
        throw permanentFailure(FailureType.ManifestEtagFault, `${input.manifestPath}: ${fixable.map(describeFault).join('; ')}`, { faults: fixable });
      }
      return { manifest, link: { path: input.manifestPath, etag: read.etag!, type: 's3' } };
    },

    /** Puts an artifact into the manifest in place of the one of its type (if any), without losing a concurrent rewrite. */
    async putManifestArtifact(input: { manifestPath: string; artifact: ManifestArtifact }): Promise<ManifestLink> {
      await rewrite(input.manifestPath, async ({ manifest, invalid }) => {
        if (!manifest) throw permanentFailure(FailureType.ManifestInvalid, `${input.manifestPath}: ${invalid.join('; ')}`, { reasons: invalid });
        const write: Manifest = { ...manifest, artifacts: [...manifest.artifacts.filter((a) => a.type !== input.artifact.type), input.artifact] };
        const problems = structuralProblems(write);
        if (problems.length) throw permanentFailure(FailureType.ManifestInvalid, `refusing to write ${input.manifestPath}: ${problems.join('; ')}`, { problems });
        return { write, result: undefined };
      });
      const head = await store.head(input.manifestPath);
      return { path: input.manifestPath, etag: head!.etag, type: 's3' };
    },

    /** The manifest as it is, without checking it against S3 (whose objects may be gone already). */
    async loadManifest(input: { manifestPath: string }): Promise<Manifest> {
      const { manifest, invalid } = await readManifest(input.manifestPath);
      if (!manifest) throw permanentFailure(FailureType.ManifestInvalid, `${input.manifestPath}: ${invalid.join('; ')}`, { reasons: invalid });
      return manifest;
    },

    /** Rewrites the manifest at the same key with S3's etags (unless a dry run), and reports. */
    async repairManifest(input: { manifestPath: string; dryRun?: boolean }): Promise<ManifestReport> {
      const { fixable, unfixable, invalid, rewritten } = await rewrite(input.manifestPath, async (read) => {
        const inspected = await inspect(read);
        const write = inspected.manifest && !input.dryRun && inspected.fixable.length ? withActualEtags(inspected.manifest, inspected.etags) : undefined;
        return { write, result: { ...inspected, rewritten: Boolean(write) } };
      });
      const head = await store.head(input.manifestPath);
      return { manifestPath: input.manifestPath, etagFaults: fixable, unfixable, invalid, rewritten, manifestEtag: head?.etag ?? null };
    },
  };
}

export function describeFault(fault: EtagFault): string {
  if (fault.kind === 'etag-stale') return `${fault.path}: etag ${fault.recorded} is stale, S3 has ${fault.actual}`;
  return `${fault.path}: etag ${fault.kind === 'etag-null' ? 'is null' : 'is missing'} (S3 has ${fault.actual})`;
}

export function describeProblem(problem: ArtifactProblem): string {
  if (problem.kind === 'object-missing') return `${problem.path}: object missing from S3`;
  return `${problem.path}: manifest md5 ${problem.recorded} differs from the object's ${problem.actual}`;
}

export type ManifestActivities = ReturnType<typeof createManifestActivities>;
