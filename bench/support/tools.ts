// The anchors' command-line tools (from the project's venv when it has them) with the dev stack's S3
// credentials, the random files they work on, and the space a benchmark's uploads leave behind in SeaweedFS.
import { randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { devStack, projectRoot } from '../../dev/config';

const venvBin = path.join(projectRoot, '.dev/venv/bin');
export const tool = (name: string): string => (fs.existsSync(path.join(venvBin, name)) ? path.join(venvBin, name) : name);

export const awsEnv = {
  AWS_ACCESS_KEY_ID: devStack.s3.accessKeyId,
  AWS_SECRET_ACCESS_KEY: devStack.s3.secretAccessKey,
  AWS_DEFAULT_REGION: devStack.s3.region,
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
};

export const awsS3 = (args: string[]): [string, string[]] => [tool('aws'), ['--endpoint-url', devStack.s3.endpoint, 's3', ...args, '--only-show-errors']];

/**
 * Every round leaves its predecessors' gigabytes as garbage in SeaweedFS's volumes, which it reclaims by
 * itself only every 14 minutes and past 30 % garbage: a few runs would fill the disk. (The dev stack's
 * RGW collects its garbage every 30 s: see dev/cephCluster.ts.)
 */
export async function reclaimSpace(): Promise<void> {
  if (devStack.s3.backend !== 'seaweedfs') return;
  const vacuum = await fetch(`${devStack.s3.seaweedMasterUrl}/vol/vacuum?garbageThreshold=0.01`).catch((error: Error) => error);
  if (vacuum instanceof Error || !vacuum.ok) console.warn(`could not reclaim the benchmark's space in SeaweedFS (${vacuum instanceof Error ? vacuum.message : vacuum.status})`);
}

/** A file of random bytes: nothing on the way can compress or deduplicate it. */
export function writeRandomFile(file: string, bytes: number): void {
  const block = Buffer.allocUnsafe(16 * 2 ** 20);
  const out = fs.openSync(file, 'w');
  for (let written = 0; written < bytes; written += block.length) fs.writeSync(out, randomFillSync(block), 0, Math.min(block.length, bytes - written));
  fs.closeSync(out);
}
