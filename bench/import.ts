// Benchmark: our S3 import upload (multipart, parts in flight, the whole file's md5 and the expected ETag
// computed in the same read, the ETag checked with HEAD), run in a process of its own as a worker runs it,
// against rclone (`copyto --ignore-times`, its multipart settings tuned first: several upload concurrencies
// and chunk sizes, its best kept) and `aws s3 cp` on the same file and the dev stack's S3 server
// (S3_BACKEND=seaweedfs|rgw), in alternating rounds. Both uploaders are bound by the server here, so the
// part we control is measured on its own too: our CPU seconds per GiB against one `md5sum` pass over the
// file (every byte must be hashed at least once). Each upload starts after `sync`, so the writeback of the
// previous one's gigabytes does not compete with it.
// Usage: npm run bench -- import [--size-gib 1] [--rounds 5] [--part-size-mib 16] [--parts-in-flight N]
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultPartsInFlight, defaultS3ImportSettings } from '../activities/s3/activities';
import { createS3Client } from '../activities/s3/client';
import { MiB } from '../activities/s3/upload';
import { devStack, projectRoot } from '../dev/config';
import { anchor, benchLine, median, seconds, timedCommand } from './support/measure';
import { awsEnv, awsS3, reclaimSpace, tool, writeRandomFile } from './support/tools';

const { values } = parseArgs({
  options: {
    'size-gib': { type: 'string', default: '1' },
    rounds: { type: 'string', default: '5' },
    'part-size-mib': { type: 'string', default: String(defaultS3ImportSettings.partSizeMiB) },
    'parts-in-flight': { type: 'string', default: String(defaultPartsInFlight) },
  },
});
const sizeGiB = Number(values['size-gib']);
const size = Math.round(sizeGiB * 1024 * MiB);
const rounds = Number(values.rounds);
const partSize = Number(values['part-size-mib']) * MiB;
const partsInFlight = Number(values['parts-in-flight']);

const bucket = 'boot-images';
const s3 = createS3Client(devStack.s3);
// rclone's remote "bench" from the environment alone (no config file).
const rcloneEnv = {
  RCLONE_CONFIG: '/dev/null',
  RCLONE_CONFIG_BENCH_TYPE: 's3',
  RCLONE_CONFIG_BENCH_PROVIDER: devStack.s3.backend === 'rgw' ? 'Ceph' : 'SeaweedFS',
  RCLONE_CONFIG_BENCH_ENDPOINT: devStack.s3.endpoint,
  RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: devStack.s3.accessKeyId,
  RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: devStack.s3.secretAccessKey,
  RCLONE_CONFIG_BENCH_REGION: devStack.s3.region,
  RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: 'true',
};
const rcloneSettings = [2, 4, 8].flatMap((concurrency) => [16, 64].map((chunkMiB) => ({ concurrency, chunkMiB })));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-import-'));
const file = path.join(dir, 'rootfs.squashfs');
const keys = { ours: 'bench/import-ours', aws: 'bench/import-aws', rclone: 'bench/import-rclone' };
const gibps = (s: number) => size / (1024 * MiB) / s;

interface OursRun {
  seconds: number;
  cpuSeconds: number;
  peakRssMiB: number;
}

async function ours(): Promise<OursRun> {
  const { stdout } = await execa('tsx', [path.join(projectRoot, 'bench/support/uploadOnce.ts'), file, bucket, keys.ours, String(partSize), String(partsInFlight)]);
  const run = JSON.parse(stdout.trim().split('\n').at(-1)!) as OursRun & { bytesSent: number };
  if (run.bytesSent !== size) throw new Error(`ours sent ${run.bytesSent} of ${size} bytes`);
  return run;
}

const aws = () => seconds(() => execa(...awsS3(['cp', file, `s3://${bucket}/${keys.aws}`]), { env: awsEnv }));
const rclone = ({ concurrency, chunkMiB }: { concurrency: number; chunkMiB: number }) =>
  seconds(() =>
    execa(tool('rclone'), ['copyto', '--ignore-times', '--s3-upload-concurrency', String(concurrency), '--s3-chunk-size', `${chunkMiB}M`, file, `bench:${bucket}/${keys.rclone}`], { env: rcloneEnv }),
  );

try {
  writeRandomFile(file, size);
  await execa('sync');
  console.log(`S3: ${devStack.s3.backend} at ${devStack.s3.endpoint}; file ${sizeGiB} GiB; ours: parts of ${partSize / MiB} MiB, ${partsInFlight} in flight`);

  const md5sum = await timedCommand('md5sum', [file]);
  console.log(`md5sum: ${md5sum.seconds.toFixed(2)} s wall, ${md5sum.cpuSeconds.toFixed(2)} CPU s (${(md5sum.cpuSeconds / sizeGiB).toFixed(2)} per GiB)`);

  const rcloneBest = await anchor('rclone', async () => {
    const tried = [];
    for (const setting of rcloneSettings) {
      await execa('sync');
      tried.push({ setting, seconds: await rclone(setting) });
      console.log(`rclone tuning: --s3-upload-concurrency ${setting.concurrency} --s3-chunk-size ${setting.chunkMiB}M: ${tried.at(-1)!.seconds.toFixed(2)} s`);
    }
    return tried.sort((a, b) => a.seconds - b.seconds)[0].setting;
  });

  const runs = {
    ours: async () => (await ours()).seconds,
    aws: () => anchor('aws', aws),
    rclone: () => (rcloneBest ? anchor('rclone', () => rclone(rcloneBest)) : Promise.resolve(undefined)),
  };
  const times: Record<keyof typeof runs, number[]> = { ours: [], aws: [], rclone: [] };
  const oursRuns: OursRun[] = [];
  for (let round = 1; round <= rounds; round++) {
    // Rotate who goes first, so none always meets the server right after the same one.
    const order = (['ours', 'aws', 'rclone'] as const).map((_, i, all) => all[(i + round) % all.length]);
    for (const name of order) {
      await execa('sync');
      if (name === 'ours') {
        const run = await ours();
        oursRuns.push(run);
        times.ours.push(run.seconds);
      } else {
        const taken = await runs[name]();
        if (taken !== undefined) times[name].push(taken);
      }
    }
    console.log(`round ${round}: ${(Object.keys(times) as (keyof typeof times)[]).map((name) => `${name} ${times[name].at(-1)?.toFixed(2) ?? 'failed'} s`).join(', ')}`);
  }
  const best = { ours: median(times.ours), aws: times.aws.length ? median(times.aws) : NaN, rclone: times.rclone.length ? median(times.rclone) : NaN };
  const cpuPerGiB = median(oursRuns.map((run) => run.cpuSeconds)) / sizeGiB;
  console.log(`median: ours ${best.ours.toFixed(2)} s (${gibps(best.ours).toFixed(2)} GiB/s, ${cpuPerGiB.toFixed(2)} CPU s per GiB), aws ${best.aws.toFixed(2)} s, rclone ${best.rclone.toFixed(2)} s (${rcloneBest ? `concurrency ${rcloneBest.concurrency}, chunks ${rcloneBest.chunkMiB} MiB` : 'failed'})`);
  console.log(
    benchLine('import', {
      backend: devStack.s3.backend,
      size_gib: sizeGiB,
      ratio_rclone: best.ours / best.rclone,
      ratio_aws: best.ours / best.aws,
      cpu_ratio_md5sum: cpuPerGiB / (md5sum.cpuSeconds / sizeGiB),
      peak_rss_mb: Math.max(...oursRuns.map((run) => run.peakRssMiB)),
      ours_s: best.ours,
    }),
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const key of Object.values(keys)) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
  await reclaimSpace();
}
