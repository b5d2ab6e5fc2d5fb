// AES-256-XTS with dm-crypt's plain64 IV, composed from AES-ECB: OpenSSL's XTS takes one sector per
// cipher object, and creating one per sector caps throughput near 30 MB/s (512-byte sectors); one
// ECB call per 64 KiB runs at AES-NI speed, and the masking around it (XOR with T·α^j) runs as
// WebAssembly SIMD (xtsMasks.wat), where JavaScript managed a third of the speed. Checked against
// OpenSSL's own XTS, cryptsetup and qemu (test/luks). This file is also the worker-thread entry and is
// loaded by Node itself (type stripping): it imports only Node built-ins and uses only erasable TypeScript.
import { createCipheriv, type Cipheriv } from 'node:crypto';
import { readFileSync, readSync, write } from 'node:fs';
import { promisify } from 'node:util';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

/**
 * plain64 counts IVs in 512-byte units from the start of the data segment, whatever the encryption
 * sector size: cryptsetup sets dm-crypt's iv_large_sectors only for plain and BitLocker devices, never
 * for LUKS2, so a 4096-byte sector's IVs go 0, 8, 16, ...
 */
export const IV_UNIT_BYTES = 512;

/**
 * Encrypts whole sectors in place. Offsets are bytes within the LUKS data segment (multiples of the
 * sector size). Keeps its two AES-ECB ciphers between calls: ECB carries no state from one block to
 * the next, so one cipher object serves a whole image.
 */
export class XtsPlain64 {
  /**
   * `capacity` bytes of WebAssembly memory, page-aligned (so usable for O_DIRECT I/O), which
   * encryptBuffer works on without copying.
   */
  readonly buffer: Uint8Array;
  private readonly dataCipher: Cipheriv;
  private readonly tweakCipher: Cipheriv;
  private readonly sectorSize: number;
  private readonly memory: Uint8Array;
  private readonly xorMasks: (tweaks: number, src: number, dst: number, sectors: number, sectorBytes: number) => void;

  constructor(volumeKey: Uint8Array, sectorSize: number, capacity = BATCH_BYTES) {
    if (volumeKey.length !== 64) throw new Error('XtsPlain64: a 64-byte key required');
    if (BATCH_BYTES % sectorSize !== 0 || capacity % BATCH_BYTES !== 0) throw new Error('XtsPlain64: a sector size dividing 64 KiB and a capacity of whole 64 KiB batches required');
    this.sectorSize = sectorSize;
    this.dataCipher = ecb(volumeKey.subarray(0, 32));
    this.tweakCipher = ecb(volumeKey.subarray(32));
    const { exports } = new WebAssembly.Instance(masksModule());
    const memory = exports.memory as WebAssembly.Memory;
    memory.grow((BUFFER + capacity) / WASM_PAGE - memory.buffer.byteLength / WASM_PAGE);
    this.memory = new Uint8Array(memory.buffer);
    this.buffer = this.memory.subarray(BUFFER, BUFFER + capacity);
    this.xorMasks = exports.xorMasks as XtsPlain64['xorMasks'];
  }

  /** Encrypts the first `length` bytes of the buffer in place. */
  encryptBuffer(segmentOffset: number, length: number): void {
    if (length % this.sectorSize !== 0 || segmentOffset % this.sectorSize !== 0) throw new Error('XtsPlain64: whole, aligned sectors required');
    if (length > this.buffer.length) throw new Error(`XtsPlain64: ${length} bytes do not fit the ${this.buffer.length}-byte buffer`);
    for (let at = 0; at < length; at += BATCH_BYTES) this.encryptBatch(segmentOffset + at, BUFFER + at, Math.min(BATCH_BYTES, length - at));
  }

  // ciphertext = E_K1(plain ^ mask) ^ mask, where block j of a sector has mask T·α^j and T = E_K2(IV).
  // A batch small enough to stay in cache goes through all three passes before the next.
  private encryptBatch(segmentOffset: number, address: number, length: number): void {
    const { sectorSize, memory } = this;
    const sectors = length / sectorSize;
    const firstIv = segmentOffset / IV_UNIT_BYTES;
    const ivStep = sectorSize / IV_UNIT_BYTES;
    const ivs = Buffer.alloc(sectors * 16);
    for (let i = 0; i < sectors; i++) {
      const iv = firstIv + i * ivStep;
      ivs.writeUInt32LE(iv % 2 ** 32, i * 16);
      ivs.writeUInt32LE(Math.floor(iv / 2 ** 32), i * 16 + 4);
    }
    memory.set(this.tweakCipher.update(ivs), TWEAKS);
    this.xorMasks(TWEAKS, address, address, sectors, sectorSize);
    memory.set(this.dataCipher.update(memory.subarray(address, address + length)), address);
    this.xorMasks(TWEAKS, address, address, sectors, sectorSize);
  }
}

const BATCH_BYTES = 64 << 10;
const WASM_PAGE = 64 << 10;
// Layout of the WebAssembly memory: one batch's encrypted tweaks (16 bytes per sector), then the buffer.
const TWEAKS = 0;
const BUFFER = WASM_PAGE;

let compiled: WebAssembly.Module | undefined;
function masksModule(): WebAssembly.Module {
  return (compiled ??= new WebAssembly.Module(readFileSync(new URL('./xtsMasks.wasm', import.meta.url))));
}

function ecb(key: Uint8Array): Cipheriv {
  const cipher = createCipheriv('aes-256-ecb', key, null);
  cipher.setAutoPadding(false);
  return cipher;
}

/** A worker's standing orders: encrypt from the source file into the container. */
export interface XtsWorkerData {
  entry: 'xts-plain64';
  volumeKey: Uint8Array;
  sectorSize: number;
  sourceFd: number;
  /** The container, opened for writing, with O_DIRECT where the filesystem allows it. */
  containerFd: number;
  /** Byte offset of the data segment in the container. */
  dataOffset: number;
  chunkBytes: number;
}

/** One chunk: plaintext bytes [position, position + length) → the container at dataOffset + position. */
export interface XtsTask {
  id: number;
  position: number;
  length: number;
}

/**
 * Direct I/O wants lengths in whole device blocks: a final chunk is written out to this many bytes
 * (zeros past the data), and the container is cut back to its size afterwards.
 */
const WRITE_ALIGNMENT = 4096;

// Workers read and write the files themselves (positioned I/O): the main thread only hands out chunks,
// and no buffer crosses threads. Each worker has two buffers, so one chunk is encrypted while the one
// before it is being written.
if (!isMainThread && (workerData as XtsWorkerData | undefined)?.entry === 'xts-plain64') {
  const { volumeKey, sectorSize, sourceFd, containerFd, dataOffset, chunkBytes } = workerData as XtsWorkerData;
  const slots = [0, 1].map(() => ({ xts: new XtsPlain64(volumeKey, sectorSize, chunkBytes), writing: Promise.resolve() }));
  const writeAt = promisify(write);
  let next = 0;

  const encryptChunk = async (slot: (typeof slots)[number], position: number, length: number) => {
    await slot.writing;
    const { buffer } = slot.xts;
    const padded = Math.ceil(length / sectorSize) * sectorSize;
    const written = Math.ceil(length / WRITE_ALIGNMENT) * WRITE_ALIGNMENT;
    for (let done = 0; done < length; ) {
      const read = readSync(sourceFd, buffer, done, length - done, position + done);
      if (read === 0) throw new Error(`the source shrank while it was being encrypted (at byte ${position + done})`);
      done += read;
    }
    // The final partial sector is padded with zeros.
    buffer.fill(0, length, written);
    slot.xts.encryptBuffer(position, padded);
    for (let done = 0; done < written; ) {
      done += (await writeAt(containerFd, buffer, done, written - done, dataOffset + position + done)).bytesWritten;
    }
  };

  parentPort!.on('message', ({ id, position, length }: XtsTask) => {
    const slot = slots[next++ % slots.length];
    const done = encryptChunk(slot, position, length);
    slot.writing = done.catch(() => undefined);
    done.then(
      () => parentPort!.postMessage({ id }),
      (error: Error) => parentPort!.postMessage({ id, error: error.message }),
    );
  });
}
