// Benchmark: our S3 import upload (multipart, parts in flight, whole-file md5 and expected ETag
// computed in the same read, ETag checked with HEAD) against `aws s3 cp` (AWS CLI, which computes
// neither) on the same file and the dev stack's S3 server, alternating rounds. `md5sum` on the same
// file is the floor: one core hashing it once. Each upload starts after `sync`, so the writeback of
// the gigabyte the previous one left in the page cache does not compete with it for the CPU.
// Usage: npm run bench -- import [--size-mib 1024] [--rounds 7] [--part-size-mib 16] [--parts-in-flight 2]
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { createHash, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultPartsInFlight, defaultS3ImportSettings } from '../activities/s3/activities';
import { createS3Client } from '../activities/s3/client';
import { createEtagDigest, layoutForPartSize } from '../activities/s3/etag';
import { MiB, uploadFile } from '../activities/s3/upload';
import { devStack, projectRoot } from '../dev/config';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '7' },
    'part-size-mib': { type: 'string', default: String(defaultS3ImportSettings.partSizeMiB) },
    'parts-in-flight': { type: 'string', default: String(defaultPartsInFlight) },
  },
});
const sizeMiB = Number(values['size-mib']);
const rounds = Number(values.rounds);
const partSize = Number(values['part-size-mib']) * MiB;
const partsInFlight = Number(values['parts-in-flight']);

const bucket = 'boot-images';
const s3 = createS3Client(devStack.s3);
const awsCli = [path.join(projectRoot, '.dev/venv/bin/aws'), 'aws'].find((candidate) => !candidate.includes('/') || fs.existsSync(candidate))!;
const awsEnv = {
  AWS_ACCESS_KEY_ID: devStack.s3.accessKeyId,
  AWS_SECRET_ACCESS_KEY: devStack.s3.secretAccessKey,
  AWS_DEFAULT_REGION: devStack.s3.region,
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
};

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-import-'));
const file = path.join(dir, 'rootfs.squashfs');
const keys = { ours: 'bench/import-ours', aws: 'bench/import-aws' };

async function seconds(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return (performance.now() - start) / 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mbps = (s: number) => (sizeMiB * MiB) / 1e6 / s;

/** Hashing alone, on the file in page cache: our digest pair against two separate OpenSSL md5s. */
async function hashingCost(file: string, partSize: number) {
  const buffer = Buffer.allocUnsafe(partSize);
  const size = fs.statSync(file).size;
  const eachPart = async (hash: (part: Buffer) => void) => {
    const handle = await fs.promises.open(file);
    try {
      for (let at = 0; at < size; at += partSize) {
        const { bytesRead } = await handle.read(buffer, 0, partSize, at);
        hash(buffer.subarray(0, bytesRead));
      }
    } finally {
      await handle.close();
    }
  };
  const pair = await seconds(async () => {
    const digest = createEtagDigest(layoutForPartSize(size, partSize));
    await eachPart((part) => digest.update(part));
    digest.digest();
  });
  const twoPasses = await seconds(async () => {
    const whole = createHash('md5');
    await eachPart((part) => {
      whole.update(part);
      createHash('md5').update(part).digest();
    });
    whole.digest();
  });
  return { pair, twoPasses };
}

try {
  // Random content: nothing on the way can compress or deduplicate it.
  const block = Buffer.allocUnsafe(16 * MiB);
  const out = fs.openSync(file, 'w');
  for (let written = 0; written < sizeMiB * MiB; written += block.length) fs.writeSync(out, randomFillSync(block), 0, Math.min(block.length, sizeMiB * MiB - written));
  fs.closeSync(out);
  console.log(`S3: ${devStack.s3.backend} at ${devStack.s3.endpoint} (S3_BACKEND=seaweedfs|rgw)`);
  console.log(`file: ${sizeMiB} MiB; ours: parts of ${partSize / MiB} MiB, ${partsInFlight} in flight; ${(await execa(awsCli, ['--version'])).stdout.trim()}`);

  const floor = await seconds(() => execa('md5sum', [file]));
  console.log(`md5sum (one core, one pass): ${floor.toFixed(2)} s, ${mbps(floor).toFixed(0)} MB/s`);
  const { pair, twoPasses } = await hashingCost(file, partSize);
  console.log(`whole-file md5 + part md5s: in one pass (ours) ${pair.toFixed(2)} s, as two node:crypto passes ${twoPasses.toFixed(2)} s`);

  const runs = {
    ours: async () => {
      const result = await uploadFile(s3, { file, bucket, key: keys.ours, partSize, partsInFlight });
      if (result.bytesSent !== sizeMiB * MiB) throw new Error(`ours sent ${result.bytesSent} bytes`);
    },
    aws: () => execa(awsCli, ['--endpoint-url', devStack.s3.endpoint, 's3', 'cp', file, `s3://${bucket}/${keys.aws}`, '--only-show-errors'], { env: awsEnv }),
  };
  const times: Record<keyof typeof runs, number[]> = { ours: [], aws: [] };
  for (let round = 1; round <= rounds; round++) {
    // Alternate which goes first, so neither always meets the server right after the other.
    const order = round % 2 ? (['ours', 'aws'] as const) : (['aws', 'ours'] as const);
    for (const name of order) {
      await execa('sync');
      times[name].push(await seconds(runs[name]));
    }
    console.log(`round ${round}: ours ${times.ours.at(-1)!.toFixed(2)} s (${mbps(times.ours.at(-1)!).toFixed(0)} MB/s), aws ${times.aws.at(-1)!.toFixed(2)} s (${mbps(times.aws.at(-1)!).toFixed(0)} MB/s)`);
  }
  const ours = median(times.ours);
  const aws = median(times.aws);
  console.log(`median: ours ${ours.toFixed(2)} s, aws ${aws.toFixed(2)} s`);
  console.log(`BENCH import backend=${devStack.s3.backend} ratio=${(ours / aws).toFixed(3)} ours_MBps=${mbps(ours).toFixed(1)} aws_MBps=${mbps(aws).toFixed(1)}`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const key of Object.values(keys)) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
  // Every round leaves its predecessors' gigabytes as garbage in SeaweedFS's volumes, which it
  // reclaims by itself only every 14 minutes and past 30 % garbage: a few runs would fill the disk.
  // (The dev stack's RGW collects its garbage every 30 s: see dev/cephCluster.ts.)
  if (devStack.s3.backend === 'seaweedfs') {
    const vacuum = await fetch(`${devStack.s3.seaweedMasterUrl}/vol/vacuum?garbageThreshold=0.01`).catch((error: Error) => error);
    if (vacuum instanceof Error || !vacuum.ok) console.warn(`could not reclaim the benchmark's space in SeaweedFS (${vacuum instanceof Error ? vacuum.message : vacuum.status})`);
  }
}
