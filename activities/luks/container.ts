// Encrypts a plaintext image into a LUKS container file: cryptsetup writes the header and key slot for a
// volume key we generate; a DataAreaWriter encrypts the data. The container is built under a temporary
// name and linked into place, so `destination` is either absent or complete, and never overwritten.
import { randomBytes } from 'node:crypto';
import { link, open, rm, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { FailureType, permanentFailure } from '../../lib/failures';
import { withKeyFile, type KeyRef, type KeyStore } from '../keys/keyStore';
import { withSecretFile } from '../keys/secretFile';
import { luksDump, luksFormat, VOLUME_KEY_BITS, type LuksVersion, type PbkdfOverride } from './cryptsetup';
import { roundUp, type DataAreaWriter, type Progress } from './dataArea';

export interface ContainerSettings {
  keyStore: KeyStore;
  /** Private (0700) directory for key files while cryptsetup runs. */
  secretsDir: string;
  writeDataArea: DataAreaWriter;
  pbkdf?: PbkdfOverride;
}

export interface ContainerRequest {
  source: string;
  destination: string;
  key: KeyRef;
  luksVersion: LuksVersion;
  sectorSize: number;
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
}

export interface ContainerResult extends KeyRef {
  uuid: string;
  luksVersion: LuksVersion;
  sectorSize: number;
  /** Byte offset of the encrypted data in the container. */
  dataOffset: number;
  /** Container size in bytes. */
  size: number;
  /** The plaintext's size; the data area holds it padded with zeros to whole sectors. */
  plaintextSize: number;
}

/**
 * Where the data starts: cryptsetup's own defaults for a 512-bit key, fixed here so the data area can be
 * written while cryptsetup writes the header (and spends seconds on its PBKDF). cryptsetup wipes and
 * writes only the bytes before the data offset.
 */
const DATA_OFFSET: Record<LuksVersion, number> = { 1: 2 << 20, 2: 16 << 20 };

export async function encryptToContainer(settings: ContainerSettings, request: ContainerRequest): Promise<ContainerResult> {
  const { source, destination, key, luksVersion, sectorSize } = request;
  const plaintextSize = await sourceSize(source);
  await checkDestination(destination);

  const dataOffset = DATA_OFFSET[luksVersion];
  const size = dataOffset + roundUp(plaintextSize, sectorSize);
  const partial = `${destination}.partial-${randomBytes(6).toString('hex')}`;
  try {
    await (await open(partial, 'wx', 0o644)).close();
    await truncate(partial, size);
    const volumeKey = randomBytes(VOLUME_KEY_BITS / 8);
    try {
      const formatted = withSecretFile(volumeKey, settings.secretsDir, (volumeKeyFile) =>
        withKeyFile(settings.keyStore, key.keyId, settings.secretsDir, (keyFile) =>
          luksFormat({ container: partial, version: luksVersion, sectorSize, volumeKeyFile, keyFile, pbkdf: settings.pbkdf, dataOffset }),
        ),
      ).then(() => luksDump(partial));
      const data = settings.writeDataArea({ source, container: partial, dataOffset, sectorSize, volumeKey, onProgress: request.onProgress, signal: request.signal });
      await allSettledOrThrow([formatted, data]);
      if ((await data).plaintextSize !== plaintextSize) throw new Error(`source ${source} changed size while it was being encrypted`);
      const header = await formatted;
      if (header.dataOffset !== dataOffset) throw new Error(`cryptsetup placed the data at ${header.dataOffset}, not at ${dataOffset} as asked`);
      const container = await open(partial, 'r+');
      try {
        await container.truncate(size);
        await container.sync();
      } finally {
        await container.close();
      }
      await link(partial, destination).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST') throw permanentFailure(FailureType.InvalidInput, `destination ${destination} appeared while encrypting; it is never overwritten`);
        throw error;
      });
      return { ...key, uuid: header.uuid, luksVersion, sectorSize, dataOffset, size, plaintextSize };
    } finally {
      volumeKey.fill(0);
    }
  } finally {
    await rm(partial, { force: true });
  }
}

/** Waits for every task, so none still writes once the caller cleans up, then throws the first failure. */
async function allSettledOrThrow(tasks: Promise<unknown>[]): Promise<void> {
  const failure = (await Promise.allSettled(tasks)).find((result) => result.status === 'rejected');
  if (failure) throw failure.reason;
}

async function sourceSize(source: string): Promise<number> {
  const info = await stat(source).catch(() => null);
  if (!info) throw permanentFailure(FailureType.InvalidInput, `source ${source} does not exist`);
  if (!info.isFile()) throw permanentFailure(FailureType.InvalidInput, `source ${source} is not a regular file`);
  if (info.size === 0) throw permanentFailure(FailureType.InvalidInput, `source ${source} is empty`);
  return info.size;
}

async function checkDestination(destination: string): Promise<void> {
  if (!(await stat(path.dirname(destination)).catch(() => null))?.isDirectory()) {
    throw permanentFailure(FailureType.InvalidInput, `destination directory ${path.dirname(destination)} does not exist`);
  }
  if (await stat(destination).then(() => true, () => false)) {
    throw permanentFailure(FailureType.InvalidInput, `destination ${destination} already exists; it is never overwritten`);
  }
}
