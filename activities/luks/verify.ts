// Proves a container right without trusting our encryptor: the header says what we asked for, the key
// opens it and a wrong key does not, and a decryptor other than ours returns the plaintext. LUKS1: qemu's
// luks driver decrypts the whole image through the key slot. LUKS2 (qemu 7.2 reads LUKS1 only):
// cryptsetup itself decrypts the start of the data area; then random sectors across the whole image are
// decrypted with OpenSSL's AES-XTS (not our ECB composition) and the volume key cryptsetup unlocked.
import { FailureType, permanentFailure } from '../../lib/failures';
import { createDecipheriv, randomInt } from 'node:crypto';
import { open, readFile, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { generateKey, withKeyFile, type KeyStore } from '../keys/keyStore';
import { makeScratchDir, wipeFile, withSecretFile } from '../keys/secretFile';
import { CIPHER, decryptOffline, dumpVolumeKey, luksDump, luksFormat, testKeyFile, VOLUME_KEY_BITS, type LuksHeader, type LuksVersion } from './cryptsetup';
import { roundUp } from './dataArea';
import { IV_UNIT_BYTES } from './xts';

export interface VerifyRequest {
  container: string;
  source: string;
  keyId: string;
  uuid: string;
  luksVersion: LuksVersion;
  sectorSize: number;
  sampleSectors: number;
  referenceWindowBytes: number;
  /** Called as each step starts (heartbeats: a verification of a large image is minutes of qemu or cryptsetup). */
  onProgress?: (progress: VerifyProgress) => void;
}

export interface VerifyProgress {
  step: string;
  stepsDone: number;
  stepsTotal: number;
}

const verifySteps = ['read header', 'open with the key', 'refuse a wrong key', 'unlock the volume key', 'decrypt with a reference decryptor', 'decrypt sampled sectors'] as const;

function stepReporter(onProgress: VerifyRequest['onProgress']) {
  return (step: (typeof verifySteps)[number] | 'done') =>
    onProgress?.({ step, stepsDone: step === 'done' ? verifySteps.length : verifySteps.indexOf(step), stepsTotal: verifySteps.length });
}

export interface VerifyReport {
  uuid: string;
  luksVersion: LuksVersion;
  cipher: string;
  sectorSize: number;
  dataOffset: number;
  /** Which independent decryptor checked the data, and how many bytes of it. */
  reference: { tool: 'qemu-img compare' | 'cryptsetup reencrypt --decrypt'; bytes: number };
  sampledSectors: number;
}

export async function verifyContainer(settings: { keyStore: KeyStore; secretsDir: string }, request: VerifyRequest): Promise<VerifyReport> {
  const step = stepReporter(request.onProgress);
  step('read header');
  const header = await luksDump(request.container).catch((error: Error) => fail(`not a readable LUKS container: ${error.message}`));
  checkHeader(header, request);
  const plaintextSize = (await stat(request.source)).size;
  const paddedSize = roundUp(plaintextSize, header.sectorSize);
  const containerSize = (await stat(request.container)).size;
  if (containerSize !== header.dataOffset + paddedSize) {
    fail(`container is ${containerSize} bytes; expected ${header.dataOffset} of header plus ${paddedSize} of data`);
  }

  const scratch = await makeScratchDir(settings.secretsDir, 'verify');
  try {
    return await withKeyFile(settings.keyStore, request.keyId, scratch, async (keyFile) => {
      step('open with the key');
      if (!(await testKeyFile(request.container, keyFile))) fail('the key does not open the container');
      step('refuse a wrong key');
      const wrongKeyOpens = await withSecretFile(generateKey(), scratch, (wrongKey) => testKeyFile(request.container, wrongKey));
      if (wrongKeyOpens) fail('a random wrong key opens the container');

      const volumeKeyFile = path.join(scratch, 'volume-key');
      step('unlock the volume key');
      await dumpVolumeKey(request.container, keyFile, volumeKeyFile);
      try {
        step('decrypt with a reference decryptor');
        const reference =
          header.version === 1
            ? await qemuCompare(request.container, request.source, keyFile, paddedSize)
            : await cryptsetupWindow({ header, request, keyFile, volumeKeyFile, scratch, window: Math.min(roundUp(request.referenceWindowBytes, header.sectorSize), paddedSize) });
        const volumeKey = await readFile(volumeKeyFile);
        try {
          step('decrypt sampled sectors');
          const sampledSectors = await compareSampledSectors(request, header, volumeKey, paddedSize);
          step('done');
          const { uuid, version: luksVersion, cipher, sectorSize, dataOffset } = header;
          return { uuid, luksVersion, cipher, sectorSize, dataOffset, reference, sampledSectors };
        } finally {
          volumeKey.fill(0);
        }
      } finally {
        await wipeFile(volumeKeyFile);
      }
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function checkHeader(header: LuksHeader, request: VerifyRequest): void {
  const expected = { uuid: request.uuid, version: request.luksVersion, cipher: CIPHER, volumeKeyBits: VOLUME_KEY_BITS, sectorSize: request.sectorSize };
  const wrong = Object.entries(expected).filter(([name, value]) => header[name as keyof LuksHeader] !== value);
  if (wrong.length) fail(`header differs: ${wrong.map(([name, value]) => `${name} is ${header[name as keyof LuksHeader]}, expected ${value}`).join('; ')}`);
}

async function qemuCompare(container: string, source: string, keyFile: string, paddedSize: number): Promise<VerifyReport['reference']> {
  // qemu-img compare treats the extra length of the larger image as equal when it is zeros: our padding.
  const result = await execa('qemu-img', [
    'compare', '--object', `secret,id=luks-key,file=${qemuPath(keyFile)}`, '--image-opts',
    `driver=luks,key-secret=luks-key,file.filename=${qemuPath(container)}`, `driver=raw,file.filename=${qemuPath(source)}`,
  ], { reject: false });
  if (result.exitCode === 1) fail(`qemu decrypts different data: ${result.stdout.trim()}`);
  if (result.exitCode !== 0) fail(`qemu cannot decrypt the container: ${result.stderr.trim()}`);
  return { tool: 'qemu-img compare', bytes: paddedSize };
}

/** qemu option values escape a comma by doubling it. */
const qemuPath = (file: string) => file.replaceAll(',', ',,');

/**
 * cryptsetup refuses to decrypt a LUKS2 container whose header is attached, so the window is copied out
 * and described by a throwaway detached header (data offset 0) holding the volume key cryptsetup
 * unlocked from the real key slot, with the cipher and sector size read from the real header.
 */
async function cryptsetupWindow(args: { header: LuksHeader; request: VerifyRequest; keyFile: string; volumeKeyFile: string; scratch: string; window: number }): Promise<VerifyReport['reference']> {
  const { header, request, keyFile, volumeKeyFile, scratch, window } = args;
  const windowFile = path.join(scratch, 'window');
  const headerFile = path.join(scratch, 'detached-header');
  await copyRange(request.container, header.dataOffset, window, windowFile);
  await luksFormat({
    container: windowFile, header: headerFile, version: 2, cipher: header.cipher, sectorSize: header.sectorSize,
    volumeKeyFile, keyFile, pbkdf: { pbkdf2Iterations: 1000 },
  });
  await decryptOffline(windowFile, headerFile, keyFile);
  const mismatch = await firstMismatch(windowFile, request.source, window);
  if (mismatch !== undefined) fail(`cryptsetup decrypts different data at data-area byte ${mismatch}`);
  return { tool: 'cryptsetup reencrypt --decrypt', bytes: window };
}

/** Decrypts the first, last and random sectors, `sampleSectors` in all; returns how many it checked. */
async function compareSampledSectors(request: VerifyRequest, header: LuksHeader, volumeKey: Buffer, paddedSize: number): Promise<number> {
  const { sectorSize, dataOffset } = header;
  const sectors = paddedSize / sectorSize;
  const count = Math.min(request.sampleSectors, sectors);
  const picks = new Set<number>([0, sectors - 1].slice(0, count));
  while (picks.size < count) picks.add(randomInt(sectors));
  const [container, source] = await Promise.all([open(request.container, 'r'), open(request.source, 'r')]);
  try {
    for (const sector of picks) {
      const offset = sector * sectorSize;
      const iv = Buffer.alloc(16);
      iv.writeBigUInt64LE(BigInt(offset / IV_UNIT_BYTES));
      const decipher = createDecipheriv('aes-256-xts', volumeKey, iv);
      const plain = Buffer.concat([decipher.update(await readAt(container, dataOffset + offset, sectorSize)), decipher.final()]);
      if (!plain.equals(await readAt(source, offset, sectorSize))) fail(`sector ${sector} (data-area byte ${offset}) decrypts to different data`);
    }
    return picks.size;
  } finally {
    await Promise.all([container.close(), source.close()]);
  }
}

/** Reads `length` bytes at `position`; what lies past the end of the file reads as zeros. */
async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  for (let done = 0; done < length; ) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer;
}

async function copyRange(from: string, start: number, length: number, to: string): Promise<void> {
  const [input, output] = await Promise.all([open(from, 'r'), open(to, 'wx', 0o600)]);
  try {
    for (let done = 0; done < length; done += CHUNK) {
      const size = Math.min(CHUNK, length - done);
      await output.write(await readAt(input, start + done, size), 0, size, done);
    }
  } finally {
    await Promise.all([input.close(), output.close()]);
  }
}

/** The first byte where `file` differs from `source` (zero-padded), over `length` bytes. */
async function firstMismatch(file: string, source: string, length: number): Promise<number | undefined> {
  const [a, b] = await Promise.all([open(file, 'r'), open(source, 'r')]);
  try {
    for (let done = 0; done < length; done += CHUNK) {
      const size = Math.min(CHUNK, length - done);
      const [x, y] = await Promise.all([readAt(a, done, size), readAt(b, done, size)]);
      if (!x.equals(y)) return done + x.findIndex((byte, i) => byte !== y[i]);
    }
    return undefined;
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

const CHUNK = 4 << 20;

function fail(message: string): never {
  throw permanentFailure(FailureType.EncryptionVerifyFailed, `encrypted image verification failed: ${message}`);
}
