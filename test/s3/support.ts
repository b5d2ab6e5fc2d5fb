// Test files with known content, the ETag S3 must report for them (computed independently of the
// code under test: whole-buffer hashing, no streaming), and the failure an activity ends with.
import type { ApplicationFailure } from '@temporalio/common';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const MiB = 1024 * 1024;
export const scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), 's3-test-'));

export function makeFile(name: string, size: number, seed = 1): { file: string; md5: string } {
  const file = path.join(scratchDir, name);
  const data = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4) data.writeUInt32LE(((i + seed) * 2654435761) >>> 0, i);
  fs.writeFileSync(file, data);
  return { file, md5: createHash('md5').update(data).digest('hex') };
}

export function expectedEtag(file: string, partSize: number): string {
  const data = fs.readFileSync(file);
  if (data.length <= partSize) return createHash('md5').update(data).digest('hex');
  const digests: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += partSize) digests.push(createHash('md5').update(data.subarray(offset, offset + partSize)).digest());
  return `${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${digests.length}`;
}

export function failureOf(running: Promise<unknown>): Promise<ApplicationFailure> {
  return running.then(
    () => {
      throw new Error('expected the activity to fail');
    },
    (error) => error as ApplicationFailure,
  );
}
