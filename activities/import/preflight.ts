// Checks every import source before anything is written: a bad path fails the import at once.
import { ApplicationFailure } from '@temporalio/common';
import fs from 'node:fs/promises';
import { FailureType, permanentFailure } from '../../lib/failures';
import type { ArtifactKind, ArtifactSource } from '../../lib/specs/importSpec';
import type { ObjectStore } from '../manifest/objectStore';
import { resolveUnderRoots } from './importRoots';

export interface CheckedSource {
  kind: ArtifactKind;
  source: ArtifactSource;
  size: number;
}

export function createImportPreflightActivities(store: ObjectStore, importRoots: string[]) {
  async function problemWith(source: ArtifactSource): Promise<{ size?: number; problem?: string }> {
    if ('file' in source) {
      try {
        const stat = await fs.stat(await resolveUnderRoots(source.file, importRoots));
        if (!stat.isFile()) return { problem: `${source.file} is not a regular file` };
        if (stat.size === 0) return { problem: `${source.file} is empty` };
        await fs.access(source.file, fs.constants.R_OK);
        return { size: stat.size };
      } catch (error) {
        if (error instanceof ApplicationFailure) return { problem: error.message };
        const code = (error as NodeJS.ErrnoException).code;
        return { problem: `${source.file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not readable' : (error as Error).message}` };
      }
    }
    const head = await store.head(source.s3);
    if (!head) return { problem: `${source.s3}: no such object` };
    if (head.size === 0) return { problem: `${source.s3} is empty` };
    return { size: head.size };
  }

  return {
    async checkImportSources(input: { sources: { kind: ArtifactKind; source: ArtifactSource }[] }): Promise<CheckedSource[]> {
      const results = await Promise.all(input.sources.map(async (entry) => ({ ...entry, ...(await problemWith(entry.source)) })));
      const problems = results.filter((r) => r.problem).map((r) => `${r.kind}: ${r.problem}`);
      if (problems.length) throw permanentFailure(FailureType.InvalidInput, `import sources unusable: ${problems.join('; ')}`, { problems });
      return results.map(({ kind, source, size }) => ({ kind, source, size: size! }));
    },
  };
}
