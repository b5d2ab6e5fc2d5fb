// Brings the dev stack back after a test broke one of its processes, as `npm start` left it.
import { execa } from 'execa';
import os from 'node:os';
import path from 'node:path';

/**
 * `dev/stack.ts up` outside the suite's own TMPDIR (test/globalSetup.ts): under it, the workers' and
 * the simulator's settings (IMPORT_ROOTS) would differ from the running ones and every one of them
 * would be restarted, not only the process the test stopped.
 */
export async function restoreStack(): Promise<void> {
  const suiteTmp = os.tmpdir();
  const env = path.basename(suiteTmp).startsWith('boot-image-tests-') ? { TMPDIR: path.dirname(suiteTmp) } : {};
  const up = await execa('tsx', ['dev/stack.ts', 'up'], { reject: false, all: true, env });
  if (up.exitCode !== 0) throw new Error(`dev stack up failed: ${up.all}`);
}
