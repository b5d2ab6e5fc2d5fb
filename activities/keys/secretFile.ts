import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, open, readdir, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

// Secret files and scratch directories carry the PID of the process that made them: a process killed
// (SIGKILL, a crash) runs no cleanup, and the next one to prepare the directory removes what dead
// processes left (removeSecretsOfDeadProcesses), never what a live one still uses.
const owned = /^(?:\.secret|[a-z]+)-(\d+)-/;

/** A fresh private scratch directory in `dir`, named for this process: `<prefix>-<pid>-XXXXXX`. */
export const makeScratchDir = (dir: string, prefix: string): Promise<string> => mkdtemp(path.join(dir, `${prefix}-${process.pid}-`));

/**
 * Writes `secret` to a fresh 0600 file in `dir`, runs `use` with its path, then wipes the file, whether
 * `use` succeeded or not. `dir` should be private to the worker (0700).
 */
export async function withSecretFile<T>(secret: Buffer, dir: string, use: (file: string) => Promise<T>): Promise<T> {
  const file = path.join(dir, `.secret-${process.pid}-${randomBytes(8).toString('hex')}`);
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

/**
 * Creates `dir` (0700) and removes, wiped, the secret files and scratch directories that processes no
 * longer running left in it. Returns the names removed.
 */
export async function preparePrivateDirectory(dir: string): Promise<string[]> {
  await ensurePrivateDirectory(dir);
  const removed: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const pid = Number(owned.exec(entry.name)?.[1]);
    if (!pid || isAlive(pid)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      for (const file of await readdir(full, { recursive: true, withFileTypes: true })) {
        if (file.isFile()) await wipeFile(path.join(file.parentPath, file.name));
      }
      await rm(full, { recursive: true, force: true });
    } else {
      await wipeFile(full);
    }
    removed.push(entry.name);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `dir` prepared (preparePrivateDirectory) once per process, on first use; what was removed is logged. */
export function privateDirectory(dir: string): () => Promise<string> {
  let ready: Promise<void> | undefined;
  return async () => {
    await (ready ??= preparePrivateDirectory(dir).then((removed) => {
      if (removed.length) console.error(`${dir}: removed ${removed.length} secret file(s) or scratch dir(s) of processes no longer running: ${removed.join(', ')}`);
    }));
    return dir;
  };
}
