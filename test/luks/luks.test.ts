// Real cryptsetup, qemu-img and mksquashfs on plain files (no device-mapper on this host).
import { MockActivityEnvironment } from '@temporalio/testing';
import { execa } from 'execa';
import { existsSync, openSync, readdirSync, readFileSync, writeSync, closeSync, statSync, copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createFileKeyStore } from '../../activities/keys/fileKeyStore';
import { withKeyFile } from '../../activities/keys/keyStore';
import { createLuksActivities } from '../../activities/luks/activities';
import { luksDump, testKeyFile } from '../../activities/luks/cryptsetup';
import { userspaceDataAreaWriter } from '../../activities/luks/dataArea';
import { makeSquashfs, scratchDir, secretForms, volumeKeyOf } from './fixtures';

const dir = scratchDir('activities');
const workDir = path.join(dir, 'work');
const keyStore = createFileKeyStore(path.join(dir, 'keys'));
// Small chunks so even a few-MiB image is many tasks completing out of order across the workers.
const luks = createLuksActivities({ keyStore, workDir, writeDataArea: userspaceDataAreaWriter({ chunkBytes: 64 << 10 }), pbkdf: { pbkdf2Iterations: 1000 } });

let squashfs: string;
let unpadded: string;
beforeAll(async () => {
  squashfs = await makeSquashfs(dir, 'rootfs');
  unpadded = await makeSquashfs(dir, 'rootfs-nopad', { nopad: true });
  expect(statSync(unpadded).size % 4096).not.toBe(0);
});

async function runActivity<I, R>(fn: (input: I) => Promise<R>, input: I) {
  const env = new MockActivityEnvironment();
  const heartbeats: unknown[] = [];
  env.on('heartbeat', (details: unknown) => heartbeats.push(details));
  const result = (await env.run(fn, input)) as R;
  return { result, heartbeats };
}

const cases = [
  { luksVersion: 2, sectorSize: 4096, image: () => unpadded },
  { luksVersion: 2, sectorSize: 512, image: () => squashfs },
  { luksVersion: 1, sectorSize: 512, image: () => unpadded },
] as const;

describe.each(cases)('LUKS$luksVersion, $sectorSize-byte sectors', ({ luksVersion, sectorSize, image }) => {
  const destination = path.join(dir, `rootfs.luks${luksVersion}-${sectorSize}`);
  let encrypted: Awaited<ReturnType<typeof luks.encryptFile>>;
  let heartbeats: unknown[];

  beforeAll(async () => {
    ({ result: encrypted, heartbeats } = await runActivity(luks.encryptFile, { source: image(), destination, luksVersion, sectorSize }));
  });

  it('makes a container whose header cryptsetup reads back as asked', async () => {
    const plaintextSize = statSync(image()).size;
    const header = await luksDump(destination);
    expect(header).toMatchObject({ version: luksVersion, uuid: encrypted.uuid, cipher: 'aes-xts-plain64', volumeKeyBits: 512, sectorSize });
    expect(encrypted).toMatchObject({ luksVersion, sectorSize, plaintextSize, dataOffset: header.dataOffset, size: statSync(destination).size });
    expect(encrypted.size).toBe(header.dataOffset + Math.ceil(plaintextSize / sectorSize) * sectorSize);
    expect(heartbeats.at(-1)).toEqual({ bytesDone: plaintextSize, bytesTotal: plaintextSize });
  });

  it('opens with the stored key and refuses a wrong one', async () => {
    await withKeyFile(keyStore, encrypted.keyId, dir, async (keyFile) => expect(await testKeyFile(destination, keyFile)).toBe(true));
    const wrong = path.join(dir, 'wrong.key');
    writeFileSync(wrong, 'x'.repeat(86), { mode: 0o600 });
    expect(await testKeyFile(destination, wrong)).toBe(false);
  });

  it('decrypts to the squashfs byte for byte with a decryptor other than ours', async () => {
    const plain = readFileSync(image());
    const padded = Buffer.alloc(encrypted.size - encrypted.dataOffset);
    plain.copy(padded);
    const out = path.join(dir, `decrypted-${luksVersion}-${sectorSize}`);
    if (luksVersion === 1) {
      await withKeyFile(keyStore, encrypted.keyId, dir, (keyFile) =>
        execa('qemu-img', ['convert', '--object', `secret,id=k,file=${keyFile}`, '--image-opts', `driver=luks,key-secret=k,file.filename=${destination}`, '-O', 'raw', out]),
      );
    } else {
      // cryptsetup's own userspace decryption, through a detached copy of the header (offset 0).
      await withKeyFile(keyStore, encrypted.keyId, dir, async (keyFile) => {
        const volumeKey = path.join(dir, `vk-${sectorSize}`);
        writeFileSync(volumeKey, await volumeKeyOf(destination, keyFile, dir), { mode: 0o600 });
        await execa('dd', [`if=${destination}`, `of=${out}`, 'bs=4096', `skip=${encrypted.dataOffset / 4096}`, 'status=none']);
        const header = path.join(dir, `hdr-${sectorSize}`);
        await execa('cryptsetup', ['luksFormat', '--batch-mode', '--type', 'luks2', '--header', header, '--offset', '0', '--cipher', 'aes-xts-plain64', '--key-size', '512',
          '--sector-size', String(sectorSize), '--volume-key-file', volumeKey, '--key-file', keyFile, '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', out]);
        await execa('cryptsetup', ['reencrypt', '--batch-mode', '--decrypt', '--force-offline-reencrypt', '--header', header, '--key-file', keyFile, out]);
      });
    }
    expect(readFileSync(out).equals(padded)).toBe(true);
  });

  it('passes its own verification activity, heartbeating each step', async () => {
    const { result, heartbeats: steps } = await runActivity(luks.verifyEncryptedFile, { container: destination, source: image(), keyId: encrypted.keyId, uuid: encrypted.uuid, luksVersion, sectorSize });
    expect(result).toMatchObject({ uuid: encrypted.uuid, luksVersion, sectorSize, cipher: 'aes-xts-plain64' });
    expect(result.reference.bytes).toBe(encrypted.size - encrypted.dataOffset);
    expect(result.reference.tool).toBe(luksVersion === 1 ? 'qemu-img compare' : 'cryptsetup reencrypt --decrypt');
    const stepNames = ['read header', 'open with the key', 'refuse a wrong key', 'unlock the volume key', 'decrypt with a reference decryptor', 'decrypt sampled sectors', 'done'];
    // Heartbeats are the latest step (a keep-alive repeats it): each step in order, none skipped, ending done.
    const seen = (steps as { step: string; stepsDone: number; stepsTotal: number }[]).filter((beat, i, all) => i === 0 || beat.step !== all[i - 1].step);
    expect(seen).toEqual(stepNames.map((step, stepsDone) => ({ step, stepsDone, stepsTotal: 6 })));
  });

  it('keeps both keys out of its result, heartbeats and failures', async () => {
    const passphrase = await keyStore.getKey(encrypted.keyId);
    const volumeKey = await withKeyFile(keyStore, encrypted.keyId, dir, (keyFile) => volumeKeyOf(destination, keyFile, dir));
    const tampered = `${destination}.tampered`;
    copyFileSync(destination, tampered);
    const fd = openSync(tampered, 'r+');
    writeSync(fd, Buffer.from('tamper'), 0, 6, encrypted.dataOffset + 100);
    closeSync(fd);
    const failure = await runActivity(luks.verifyEncryptedFile, { container: tampered, source: image(), keyId: encrypted.keyId, uuid: encrypted.uuid, luksVersion, sectorSize }).catch((e: unknown) => e);
    expect(failure).toMatchObject({ type: 'EncryptionVerifyFailed', nonRetryable: true });
    const serialized = JSON.stringify({ encrypted, heartbeats, failure, message: (failure as Error).message, stack: (failure as Error).stack });
    for (const secret of [...secretForms(passphrase), ...secretForms(volumeKey)]) expect(serialized).not.toContain(secret);
    expect(encrypted.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('encryptFile housekeeping and bad input', () => {
  it('leaves no key file, temporary container or volume key behind', () => {
    expect(readdirSync(workDir)).toEqual([]);
    expect(readdirSync(dir).filter((name) => name.includes('.partial-') || name.startsWith('.secret-'))).toEqual([]);
  });

  it('reuses a given key and reports its fingerprint', async () => {
    const ref = await luks.createLuksKey();
    const destination = path.join(dir, 'with-given-key.luks');
    const { result } = await runActivity(luks.encryptFile, { source: squashfs, destination, keyId: ref.keyId });
    expect(result).toMatchObject({ ...ref, luksVersion: 2, sectorSize: 4096 });
  });

  // cryptsetup's PBKDF moves no bytes for seconds (longer on a loaded host): a 30 s heartbeat timeout
  // must not see that as a dead worker.
  it('heartbeats while no bytes move', async () => {
    const writer = userspaceDataAreaWriter({ chunkBytes: 64 << 10 });
    const slowStart = createLuksActivities({
      keyStore,
      workDir,
      pbkdf: { pbkdf2Iterations: 1000 },
      writeDataArea: async (job) => {
        await new Promise((resolve) => setTimeout(resolve, 11_000));
        return writer(job);
      },
    });
    const { heartbeats } = await runActivity(slowStart.encryptFile, { source: squashfs, destination: path.join(dir, 'slow-start.luks') });
    const beforeProgress = heartbeats.findIndex((details) => details !== undefined);
    expect(beforeProgress).toBeGreaterThanOrEqual(2);
    expect(heartbeats.at(-1)).toMatchObject({ bytesDone: statSync(squashfs).size, bytesTotal: statSync(squashfs).size });
  }, 30_000);

  const bad: [string, () => object, RegExp][] = [
    ['missing source', () => ({ source: path.join(dir, 'nope.squashfs') }), /source .* does not exist/],
    ['empty source', () => ({ source: (writeFileSync(path.join(dir, 'empty'), ''), path.join(dir, 'empty')) }), /is empty/],
    ['relative source', () => ({ source: 'rootfs.squashfs' }), /source: must be an absolute path/],
    ['sector size 1024', () => ({ sectorSize: 1024 }), /sectorSize/],
    ['LUKS1 with 4096-byte sectors', () => ({ luksVersion: 1, sectorSize: 4096 }), /LUKS1 supports only 512-byte sectors/],
    ['LUKS version 3', () => ({ luksVersion: 3 }), /luksVersion/],
    ['unknown key id', () => ({ keyId: 'luks-00000000-0000-0000-0000-000000000000' }), /not found in the key store/],
    ['missing destination directory', () => ({ destination: path.join(dir, 'no-such-dir', 'out.luks') }), /destination directory .* does not exist/],
  ];
  it.each(bad)('%s → InvalidInput, nothing written', async (_, input, message) => {
    const destination = path.join(dir, 'bad-input.luks');
    const failure = await runActivity(luks.encryptFile, { source: squashfs, destination, ...input() } as never).catch((e: unknown) => e);
    expect(failure).toMatchObject({ type: 'InvalidInput', nonRetryable: true, message: expect.stringMatching(message) });
    expect(existsSync(destination)).toBe(false);
    expect(readdirSync(dir).filter((name) => name.startsWith('bad-input'))).toEqual([]);
  });

  it('never overwrites an existing destination', async () => {
    const destination = path.join(dir, 'existing.luks');
    writeFileSync(destination, 'precious');
    const failure = await runActivity(luks.encryptFile, { source: squashfs, destination }).catch((e: unknown) => e);
    expect(failure).toMatchObject({ type: 'InvalidInput', message: expect.stringMatching(/already exists; it is never overwritten/) });
    expect(readFileSync(destination, 'utf8')).toBe('precious');
  });
});
