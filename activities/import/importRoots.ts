// The only places local files may be imported from. The worker runs as root and whoever can start a
// workflow names the file: without roots, any file the worker can read (keys, /etc/shadow) could be
// copied into S3. A path counts by where it really is: `..` and symlinks are resolved first.
import fs from 'node:fs/promises';
import path from 'node:path';
import { FailureType, permanentFailure } from '../../lib/failures';
import { readSettings, type Environment } from '../../settings/load';

/** IMPORT_ROOTS (settings/schema.ts): absolute directories. */
export const importRootsFromEnv = (env: Environment): string[] => readSettings(['imports'], env).imports.IMPORT_ROOTS;

const within = (file: string, root: string) => {
  const relative = path.relative(root, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
};

/**
 * The real path of `file` when it lies under one of the roots (each root itself resolved), else
 * a non-retryable InvalidInput naming the file, where it leads and the roots. Read the returned path.
 */
export async function resolveUnderRoots(file: string, roots: string[]): Promise<string> {
  if (!path.isAbsolute(file)) throw permanentFailure(FailureType.InvalidInput, `${file}: an import file must be an absolute path`);
  let real: string;
  try {
    real = await fs.realpath(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw permanentFailure(FailureType.InvalidInput, `${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not readable' : (error as Error).message}`);
  }
  const realRoots = await Promise.all(roots.map((root) => fs.realpath(root).catch(() => path.resolve(root))));
  if (!realRoots.some((root) => within(real, root))) {
    const leads = real === path.resolve(file) ? '' : ` (it leads to ${real})`;
    throw permanentFailure(FailureType.InvalidInput, `${file}${leads} is outside the import roots ${roots.join(', ')}: files are imported only from there (IMPORT_ROOTS)`);
  }
  return real;
}
