// The project's shared documents (../shared beside the checkout on our machines): the GPL-licensed
// LIO saveconfig samples stay there rather than in this repository. SHARED_DIR overrides the place.
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../dev/config';

export function sharedDocument(...parts: string[]): string {
  const candidates = [process.env.SHARED_DIR, path.join(projectRoot, '..', 'shared'), '/work/shared'].filter((dir): dir is string => Boolean(dir));
  const found = candidates.map((dir) => path.join(dir, ...parts)).find((file) => fs.existsSync(file));
  if (!found) throw new Error(`${parts.join('/')} is in none of ${candidates.join(', ')}: set SHARED_DIR to the folder of the project's shared documents`);
  return found;
}
