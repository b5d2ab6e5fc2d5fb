// Writes the LUKS data area: the plaintext file, encrypted sector by sector, at the header's data
// offset. Worker threads read, encrypt and write chunks; this thread hands them out and reports progress.
import { availableParallelism } from 'node:os';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { XtsTask, XtsWorkerData } from './xts';

export interface Progress {
  bytesDone: number;
  bytesTotal: number;
}

export interface DataAreaJob {
  /** The plaintext (the rootfs image). */
  source: string;
  /** The container file, already formatted by cryptsetup. */
  container: string;
  /** Where the data segment starts in the container, from its header. */
  dataOffset: number;
  sectorSize: number;
  volumeKey: Buffer;
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
}

/**
 * Fills a container's data area. The userspace writer below is the one this project ships; a dm-crypt
 * writer (open the container, copy the plaintext through /dev/mapper) would be a second implementation.
 * It may write zeros past the data area's end, up to the next 4 KiB; the caller cuts the file back.
 */
export type DataAreaWriter = (job: DataAreaJob) => Promise<{ plaintextSize: number }>;

export interface UserspaceWriterOptions {
  /** Worker threads; default: every core. */
  threads?: number;
  /** Bytes per task; a multiple of 64 KiB. */
  chunkBytes?: number;
}

export const roundUp = (value: number, multiple: number) => Math.ceil(value / multiple) * multiple;

/**
 * The final partial sector is padded with zeros: the nodes mount a squashfs, which ignores what follows
 * its own length, and mksquashfs pads to 4 KiB anyway. Callers get the size read, to check it against theirs.
 */
export function userspaceDataAreaWriter({ threads = availableParallelism(), chunkBytes = 4 << 20 }: UserspaceWriterOptions = {}): DataAreaWriter {
  return async ({ source, container, dataOffset, sectorSize, volumeKey, onProgress, signal }) => {
    const files: FileHandle[] = [];
    const inFlight = new Set<Promise<void>>();
    let pool: XtsPool | undefined;
    try {
      const input = await open(source, 'r');
      files.push(input);
      const output = await openForWriting(container);
      files.push(output);
      const plaintextSize = (await input.stat()).size;
      pool = new XtsPool(threads, { entry: 'xts-plain64', volumeKey, sectorSize, sourceFd: input.fd, containerFd: output.fd, dataOffset, chunkBytes });
      let bytesDone = 0;
      for (let position = 0; position < plaintextSize; position += chunkBytes) {
        signal?.throwIfAborted();
        const length = Math.min(chunkBytes, plaintextSize - position);
        const task = pool.run(position, length).then(() => {
          bytesDone += length;
          onProgress?.({ bytesDone, bytesTotal: plaintextSize });
        });
        inFlight.add(task);
        void task.then(() => inFlight.delete(task), () => undefined);
        if (inFlight.size >= 2 * pool.size) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      return { plaintextSize };
    } finally {
      await Promise.allSettled(inFlight);
      await pool?.close();
      await Promise.all(files.map((file) => file.close()));
    }
  };
}

/** Worker threads running xts.ts; each task goes to the worker with the fewest outstanding. */
class XtsPool {
  private readonly workers: { worker: Worker; pending: Map<number, { resolve: () => void; reject: (error: Error) => void }> }[];
  private nextId = 0;

  constructor(threads: number, workerData: XtsWorkerData) {
    this.workers = Array.from({ length: Math.max(1, threads) }, () => {
      const entry = { worker: new Worker(new URL('./xts.ts', import.meta.url), { workerData }), pending: new Map() };
      entry.worker.on('message', ({ id, error }: { id: number; error?: string }) => {
        const task = entry.pending.get(id);
        entry.pending.delete(id);
        if (error === undefined) task?.resolve();
        else task?.reject(new Error(error));
      });
      const failAll = (error: Error) => {
        for (const { reject } of entry.pending.values()) reject(error);
        entry.pending.clear();
      };
      entry.worker.on('error', failAll);
      entry.worker.on('exit', (code) => failAll(new Error(`encryption worker exited (code ${code})`)));
      return entry;
    });
  }

  get size(): number {
    return this.workers.length;
  }

  run(position: number, length: number): Promise<void> {
    const target = this.workers.reduce((best, entry) => (entry.pending.size < best.pending.size ? entry : best));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      target.pending.set(id, { resolve, reject });
      const task: XtsTask = { id, position, length };
      target.worker.postMessage(task);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
  }
}

/**
 * The container opened for direct I/O, past the page cache: it is written once and not read back on
 * this host, and buffered writes of a whole image stall now and then for seconds in dirty-page
 * writeback (bench/encrypt.ts saw 0.3 s to 3 s for the same gigabyte). Buffered where the filesystem
 * has no O_DIRECT (tmpfs before Linux 6.6).
 */
async function openForWriting(container: string): Promise<FileHandle> {
  return open(container, constants.O_WRONLY | constants.O_DIRECT).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EINVAL') return open(container, constants.O_WRONLY);
    throw error;
  });
}
