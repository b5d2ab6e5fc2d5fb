// The integration suite runs against the dev stack: refuse to start when it is not up.
// Every temporary file of the run goes under one directory (TMPDIR, inherited by the test processes
// and the tools they start), removed when the run ends: the suite writes a few hundred MB of images.
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default async function setup() {
  const status = await execa('tsx', ['dev/stack.ts', 'status'], { reject: false });
  if (status.exitCode !== 0) {
    throw new Error(`the dev stack is not healthy; start it with 'npm start'.\n${status.stdout}`);
  }
  const runTmp = fs.mkdtempSync(path.join(os.tmpdir(), 'boot-image-tests-'));
  process.env.TMPDIR = runTmp;
  return () => fs.rmSync(runTmp, { recursive: true, force: true });
}
