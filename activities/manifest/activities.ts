// Manifest activities: write, check against S3, and repair in place (seed 000, steps 1-2).
import { FailureType, permanentFailure } from '../../lib/failures';
import {
  Manifest,
  etagFaults,
  structuralProblems,
  withActualEtags,
  type ArtifactProblem,
  type EtagFault,
} from '../../lib/manifest';
import type { ObjectStore } from './objectStore';

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

export function createManifestActivities(store: ObjectStore) {
  async function readManifest(manifestPath: string): Promise<{ manifest?: Manifest; invalid: string[] }> {
    const head = await store.head(manifestPath);
    if (!head) return { invalid: [`manifest ${manifestPath} does not exist`] };
    let raw: unknown;
    try {
      raw = JSON.parse(await store.getText(manifestPath));
    } catch (error) {
      return { invalid: [`manifest ${manifestPath} is not JSON: ${(error as Error).message}`] };
    }
    const invalid = structuralProblems(raw);
    return invalid.length ? { invalid } : { manifest: Manifest.parse(raw), invalid };
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

  async function inspect(manifestPath: string) {
    const { manifest, invalid } = await readManifest(manifestPath);
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
      const { manifest, invalid, fixable, unfixable } = await inspect(input.manifestPath);
      if (!manifest || invalid.length || unfixable.length) {
        const reasons = [...invalid, ...unfixable.map(describeProblem)];
        throw permanentFailure(FailureType.ManifestInvalid, `${input.manifestPath}: ${reasons.join('; ')}`, { reasons });
      }
      if (fixable.length) {
        throw permanentFailure(FailureType.ManifestEtagFault, `${input.manifestPath}: ${fixable.map(describeFault).join('; ')}`, { faults: fixable });
      }
      const head = await store.head(input.manifestPath);
      return { manifest, link: { path: input.manifestPath, etag: head!.etag, type: 's3' } };
    },

    /** The manifest as it is, without checking it against S3 (whose objects may be gone already). */
    async loadManifest(input: { manifestPath: string }): Promise<Manifest> {
      const { manifest, invalid } = await readManifest(input.manifestPath);
      if (!manifest) throw permanentFailure(FailureType.ManifestInvalid, `${input.manifestPath}: ${invalid.join('; ')}`, { reasons: invalid });
      return manifest;
    },

    /** Rewrites the manifest at the same key with S3's etags (unless a dry run), and reports. */
    async repairManifest(input: { manifestPath: string; dryRun?: boolean }): Promise<ManifestReport> {
      const { manifest, invalid, etags, fixable, unfixable } = await inspect(input.manifestPath);
      let rewritten = false;
      if (manifest && !input.dryRun && fixable.length) {
        await store.putJson(input.manifestPath, withActualEtags(manifest, etags));
        rewritten = true;
      }
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
