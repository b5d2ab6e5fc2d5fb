// Benchmark: our userspace LUKS encryptor on a 1 GiB file (every core, then one thread), against `cp` of
// the same file (the floor: a copy reads and writes it too) and `qemu-img convert -O luks` (a userspace
// LUKS encryptor users could pick instead), alternating, each followed by an fsync of its output as ours
// does. PBKDFs are cut to a minimum on both sides: key-slot cost is not the data path.
// Usage: tsx bench/encrypt.ts   (BENCH_ENCRYPT_MIB=1024, BENCH_ROUNDS=3)
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { createFileKeyStore } from '../activities/keys/fileKeyStore';
import { withKeyFile } from '../activities/keys/keyStore';
import { encryptToContainer } from '../activities/luks/container';
import { userspaceDataAreaWriter } from '../activities/luks/dataArea';

const mib = Number(process.env.BENCH_ENCRYPT_MIB ?? 1024);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const dir = mkdtempSync(path.join(tmpdir(), 'bench-encrypt-'));
const source = path.join(dir, 'rootfs.raw');
const output = path.join(dir, 'out');
const keyStore = createFileKeyStore(path.join(dir, 'keys'));

async function timed(run: () => Promise<unknown>): Promise<number> {
  rmSync(output, { force: true });
  const start = performance.now();
  await run();
  const seconds = (performance.now() - start) / 1000;
  rmSync(output, { force: true });
  return seconds;
}

const ours = (threads: number) => async () => {
  const key = await keyStore.createKey();
  await encryptToContainer(
    { keyStore, secretsDir: dir, writeDataArea: userspaceDataAreaWriter({ threads }), pbkdf: { pbkdf2Iterations: 1000 } },
    { source, destination: output, key, luksVersion: 2, sectorSize: 4096 },
  );
};

const cp = async () => {
  await execa('cp', [source, output]);
  await execa('sync', [output]);
};

const qemu = (keyId: string) => () =>
  withKeyFile(keyStore, keyId, dir, async (keyFile) => {
    await execa('qemu-img', ['convert', '-f', 'raw', '-O', 'luks', '--object', `secret,id=k,file=${keyFile}`, '-o', 'key-secret=k,iter-time=10', source, output]);
    await execa('sync', [output]);
  });

try {
  const chunk = randomBytes(1 << 20);
  writeFileSync(source, Buffer.concat(Array.from({ length: mib }, () => chunk)));
  await execa('sync', [source]); // its writeback would otherwise land on the first contender
  const { keyId } = await keyStore.createKey();
  const contenders = { ours: ours(availableParallelism()), ours1: ours(1), cp, qemu: qemu(keyId) };
  const best: Record<keyof typeof contenders, number> = { ours: Infinity, ours1: Infinity, cp: Infinity, qemu: Infinity };
  for (let round = 0; round < rounds; round++) {
    const order = Object.keys(contenders) as (keyof typeof contenders)[];
    if (round % 2) order.reverse();
    for (const name of order) {
      const seconds = await timed(contenders[name]);
      best[name] = Math.min(best[name], seconds);
      console.log(`round ${round + 1} ${name.padEnd(5)} ${seconds.toFixed(2)} s  ${(mib / seconds).toFixed(0)} MB/s`);
    }
  }
  const speed = (await execa('openssl', ['speed', '-evp', 'aes-256-xts', '-seconds', '1'], { reject: false })).stdout.trim().split('\n').at(-1);
  console.log(`openssl speed -evp aes-256-xts (one core, CPU limit; kB/s by block size): ${speed}`);
  console.log(`cores=${availableParallelism()} ours_1thread_MBps=${(mib / best.ours1).toFixed(0)} parallel_speedup=${(best.ours1 / best.ours).toFixed(2)}`);
  console.log(`BENCH encrypt ratio_cp=${(best.ours / best.cp).toFixed(2)} ratio_qemu=${(best.ours / best.qemu).toFixed(2)} ours_MBps=${(mib / best.ours).toFixed(0)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
