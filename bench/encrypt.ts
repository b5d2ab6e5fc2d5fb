// Benchmark: the encryption phase and the encryptor.
// The phase: the real encryptImage workflow on the dev stack (stage the rootfs from S3, encrypt, verify,
// upload the container) on a random rootfs of --phase-gib, against a plain S3 copy of the same object
// (`aws s3 cp` down to a local file, then up again), in alternating rounds.
// The encryptor alone on --size-mib: ours (every core, then one thread) against `cp` of the same file (a
// copy reads and writes it too), cryptsetup's own userspace encryption of the file in place
// (`cryptsetup reencrypt --encrypt --force-offline-reencrypt` with a detached header: no device-mapper)
// and `qemu-img convert -O luks`; each followed by an fsync of its output as ours does. PBKDFs are cut to
// a minimum on every side: key-slot cost is not the data path. An anchor that fails is reported and left out.
// Usage: npm run bench -- encrypt [--size-mib 1024] [--rounds 3] [--phase-gib 2] [--phase-rounds 2]
import { Client, Connection } from '@temporalio/client';
import { execa } from 'execa';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createFileKeyStore } from '../activities/keys/fileKeyStore';
import { withKeyFile } from '../activities/keys/keyStore';
import { encryptToContainer } from '../activities/luks/container';
import { userspaceDataAreaWriter } from '../activities/luks/dataArea';
import { createS3Client } from '../activities/s3/client';
import { MiB } from '../activities/s3/upload';
import { attemptRows } from '../cli/history';
import { devStack } from '../dev/config';
import type { EncryptSpec } from '../lib/specs/encryptSpec';
import { anchor, benchLine, seconds } from './support/measure';
import { seedBenchImage } from './support/seedImage';
import { awsEnv, awsS3, reclaimSpace, writeRandomFile } from './support/tools';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '3' },
    'phase-gib': { type: 'string', default: '2' },
    'phase-rounds': { type: 'string', default: '2' },
  },
});
const mib = Number(values['size-mib']);
const rounds = Number(values.rounds);
const phaseBytes = Math.round(Number(values['phase-gib']) * 1024 * MiB);
const phaseRounds = Number(values['phase-rounds']);

const dir = mkdtempSync(path.join(tmpdir(), 'bench-encrypt-'));
const source = path.join(dir, 'rootfs.raw');
const output = path.join(dir, 'out');
const keyStore = createFileKeyStore(path.join(dir, 'keys'));
const cheapPbkdf = 1000;

async function timed(run: () => Promise<unknown>, prepare: () => unknown = () => undefined): Promise<number> {
  rmSync(output, { force: true });
  await prepare();
  const taken = await seconds(run);
  rmSync(output, { force: true });
  return taken;
}

const ours = (threads: number) => async () => {
  const key = await keyStore.createKey();
  await encryptToContainer(
    { keyStore, secretsDir: dir, writeDataArea: userspaceDataAreaWriter({ threads }), pbkdf: { pbkdf2Iterations: cheapPbkdf } },
    { source, destination: output, key, luksVersion: 2, sectorSize: 4096 },
  );
};

const cp = async () => {
  await execa('cp', [source, output]);
  await execa('sync', [output]);
};

/** In place, so the copy it works on is made before the clock starts. */
const cryptsetupReencrypt = (keyId: string) => () =>
  withKeyFile(keyStore, keyId, dir, async (keyFile) => {
    await execa('cryptsetup', [
      'reencrypt', '--encrypt', '--type', 'luks2', '--force-offline-reencrypt', '--header', path.join(dir, 'detached-header'),
      '--cipher', 'aes-xts-plain64', '--key-size', '512', '--sector-size', '4096', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', String(cheapPbkdf),
      '--key-file', keyFile, '--batch-mode', output,
    ]);
    await execa('sync', [output]);
  });

const qemu = (keyId: string) => () =>
  withKeyFile(keyStore, keyId, dir, async (keyFile) => {
    await execa('qemu-img', ['convert', '-f', 'raw', '-O', 'luks', '--object', `secret,id=k,file=${keyFile}`, '-o', 'key-secret=k,iter-time=10', source, output]);
    await execa('sync', [output]);
  });

async function encryptorAlone() {
  writeRandomFile(source, mib * MiB);
  await execa('sync', [source]); // its writeback would otherwise land on the first contender
  const { keyId } = await keyStore.createKey();
  const contenders = {
    ours: { run: ours(availableParallelism()) },
    ours1: { run: ours(1) },
    cp: { run: cp },
    cryptsetup: { run: cryptsetupReencrypt(keyId), prepare: () => copyFileSync(source, output) },
    qemu: { run: qemu(keyId) },
  };
  type Name = keyof typeof contenders;
  const best = Object.fromEntries(Object.keys(contenders).map((name) => [name, Infinity])) as Record<Name, number>;
  const failed = new Set<Name>();
  for (let round = 0; round < rounds; round++) {
    const order = Object.keys(contenders) as Name[];
    if (round % 2) order.reverse();
    for (const name of order) {
      if (failed.has(name)) continue;
      rmSync(path.join(dir, 'detached-header'), { force: true });
      const { run, prepare } = contenders[name] as { run: () => Promise<unknown>; prepare?: () => unknown };
      const taken = name.startsWith('ours') ? await timed(run, prepare) : await anchor(name, () => timed(run, prepare));
      if (taken === undefined) {
        failed.add(name);
        continue;
      }
      best[name] = Math.min(best[name], taken);
      console.log(`round ${round + 1} ${name.padEnd(10)} ${taken.toFixed(2)} s  ${(mib / taken).toFixed(0)} MiB/s`);
    }
  }
  const speed = (await execa('openssl', ['speed', '-evp', 'aes-256-xts', '-seconds', '1'], { reject: false })).stdout.trim().split('\n').at(-1);
  console.log(`openssl speed -evp aes-256-xts (one core, CPU limit; kB/s by block size): ${speed}`);
  console.log(`ours_1thread_MiBps=${(mib / best.ours1).toFixed(0)} parallel_speedup=${(best.ours1 / best.ours).toFixed(2)}`);
  rmSync(source, { force: true });
  return best;
}

async function phase() {
  const s3 = createS3Client(devStack.s3);
  const rootfs = path.join(dir, 'phase-rootfs');
  writeRandomFile(rootfs, phaseBytes);
  const image = await seedBenchImage(s3, { rootfs }, `bench-encrypt-${randomUUID().slice(0, 6)}`);
  rmSync(rootfs, { force: true });
  const connection = await Connection.connect({ address: devStack.temporal.address });
  const client = new Client({ connection, namespace: devStack.temporal.namespace });
  const copyKey = `s3://boot-images/bench/encrypt-copy-${randomUUID().slice(0, 6)}`;
  const downloaded = path.join(dir, 'downloaded');
  const times = { phase: Infinity, copy: Infinity };
  let lastWorkflowId = '';
  try {
    const runs = {
      phase: async () => {
        lastWorkflowId = `bench-encrypt-${randomUUID().slice(0, 8)}`;
        const spec: EncryptSpec = { imageId: image.imageId, replace: true, pbkdf2Iterations: cheapPbkdf };
        await client.workflow.execute('encryptImage', { taskQueue: devStack.temporal.taskQueue, workflowId: lastWorkflowId, args: [spec] });
      },
      copy: async () => {
        await execa(...awsS3(['cp', image.rootfsUrl, downloaded]), { env: awsEnv });
        await execa('sync', [downloaded]);
        await execa(...awsS3(['cp', downloaded, copyKey]), { env: awsEnv });
        rmSync(downloaded, { force: true });
      },
    };
    for (let round = 0; round < phaseRounds; round++) {
      for (const name of (round % 2 ? ['copy', 'phase'] : ['phase', 'copy']) as (keyof typeof runs)[]) {
        await execa('sync');
        const taken = name === 'copy' ? await anchor('plain S3 copy', () => seconds(runs.copy)) : await seconds(runs.phase);
        if (taken === undefined) continue;
        times[name] = Math.min(times[name], taken);
        console.log(`phase round ${round + 1} ${name.padEnd(6)} ${taken.toFixed(2)} s`);
      }
    }
    const events = (await client.workflow.getHandle(lastWorkflowId).fetchHistory()).events ?? [];
    for (const row of attemptRows(events)) console.log(`  ${row.label.padEnd(40)} ${((row.durationMs ?? 0) / 1000).toFixed(2)} s`);
  } finally {
    await execa(...awsS3(['rm', copyKey]), { env: awsEnv, reject: false });
    await image.remove();
    await connection.close();
  }
  return times;
}

try {
  const best = await encryptorAlone();
  const phaseTimes = await phase();
  console.log(
    benchLine('encrypt', {
      ratio_phase: phaseTimes.phase / phaseTimes.copy,
      ratio_cp: best.ours / best.cp,
      ratio_cryptsetup: best.ours / best.cryptsetup,
      ratio_qemu: best.ours / best.qemu,
      ours_MiBps: mib / best.ours,
      phase_s: phaseTimes.phase,
      copy_s: phaseTimes.copy,
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
  await reclaimSpace();
}
