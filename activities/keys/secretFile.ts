import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes `secret` to a fresh 0600 file in `dir`, runs `use` with its path, then wipes the file, whether
 * `use` succeeded or not. `dir` should be private to the worker (0700).
 */
export async function withSecretFile<T>(secret: Buffer, dir: string, use: (file: string) => Promise<T>): Promise<T> {
  const file = path.join(dir, `.secret-${randomBytes(8).toString('hex')}`);
  const handle = await open(file, 'wx', 0o600);
  try {
    await handle.writeFile(secret);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    return await use(file);
  } finally {
    await wipeFile(file);
  }
}

/** Overwrites a file with zeros, syncs, and unlinks it (a missing file is fine). */
export async function wipeFile(file: string): Promise<void> {
  const info = await stat(file).catch(() => null);
  if (!info) return;
  const handle = await open(file, 'r+');
  try {
    await handle.write(Buffer.alloc(info.size), 0, info.size, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await unlink(file);
}

/** Creates `dir` (0700), or tightens an existing one to 0700: mkdir leaves an existing directory's mode alone. */
export async function ensurePrivateDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await stat(dir)).mode & 0o077) await chmod(dir, 0o700);
}
