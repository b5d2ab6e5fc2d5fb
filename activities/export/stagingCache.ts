// The staging cache on an iSCSI server: `<cacheDir>/<serial>.img` files (and the `.partial-*` files of
// downloads in progress or interrupted), reached through the command runner so the same code works
// where the agent runs on the server and over SSH. Bounded in size: the least recently used files no
// export uses go first. A file's mtime is its last use: staging touches it on every cache hit.
import path from 'node:path';
import type { CommandRunner } from './commandRunner';

export interface CachedFile {
  path: string;
  sizeBytes: number;
  lastUsedMs: number;
  /** A download in progress, or left behind by an interrupted one. */
  partial: boolean;
}

export interface EvictedFile {
  path: string;
  sizeBytes: number;
}

/** A partial file untouched this long belongs to no running download (those write continuously). */
const stalePartialMs = 10 * 60_000;

const partialMarker = '.partial-';

export const partialPathOf = (file: string, suffix: string) => `${file}${partialMarker}${suffix}`;

/** Creates the cache directory if needed and makes it private (0700) whatever the umask or its earlier mode. */
export async function prepareCacheDir(runner: CommandRunner, dir: string): Promise<void> {
  await runner.run(['mkdir', '-p', '-m', '0700', '--', dir]);
  await runner.run(['chmod', '0700', '--', dir]);
}

/**
 * Removes every partial download in the cache: run before this agent's first staging, when any partial
 * there is a dead agent's (one agent per server writes its cache; a killed one leaves its download).
 */
export async function removePartialDownloads(runner: CommandRunner, dir: string): Promise<void> {
  const partials = (await listCache(runner, dir)).filter((file) => file.partial).map((file) => file.path);
  if (partials.length) await runner.run(['rm', '-f', '--', ...partials]);
}

/** The cache's files; none when the directory does not exist (yet). */
export async function listCache(runner: CommandRunner, dir: string): Promise<CachedFile[]> {
  const find = `[ -d "$1" ] || exit 0; exec find "$1" -maxdepth 1 -type f \\( -name '*.img' -o -name '*.img${partialMarker}*' \\) -printf '%T@ %s %p\\n'`;
  const { stdout } = await runner.run(['sh', '-c', find, 'sh', dir]);
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [mtime, size, ...rest] = line.split(' ');
      const file = path.resolve(rest.join(' '));
      return { path: file, sizeBytes: Number(size), lastUsedMs: Math.round(Number(mtime) * 1000), partial: file.includes(partialMarker) };
    });
}

export async function removeFiles(runner: CommandRunner, files: string[]): Promise<void> {
  if (files.length) await runner.run(['rm', '-f', '--', ...files]);
}

/**
 * Frees room for `incomingBytes` under `maxBytes`: stale partial files first, then cached images no
 * export uses (`inUse`: the backing files of the server's LUNs), least recently used first. Returns what it removed and whether the incoming file now fits.
 */
export async function evictForRoom(
  runner: CommandRunner,
  options: { dir: string; maxBytes: number; incomingBytes: number; inUse: string[]; nowMs?: number },
): Promise<{ evicted: EvictedFile[]; fits: boolean; usedBytes: number }> {
  const files = await listCache(runner, options.dir);
  const now = options.nowMs ?? Date.now();
  const inUse = new Set(options.inUse.map((file) => path.resolve(file)));
  const evictable = files
    .filter((file) => !inUse.has(path.resolve(file.path)))
    .filter((file) => !file.partial || now - file.lastUsedMs > stalePartialMs)
    .sort((a, b) => Number(b.partial) - Number(a.partial) || a.lastUsedMs - b.lastUsedMs);
  let usedBytes = files.reduce((sum, file) => sum + file.sizeBytes, 0);
  const evicted: EvictedFile[] = [];
  for (const file of evictable) {
    if (usedBytes + options.incomingBytes <= options.maxBytes) break;
    evicted.push({ path: file.path, sizeBytes: file.sizeBytes });
    usedBytes -= file.sizeBytes;
  }
  await removeFiles(runner, evicted.map((file) => file.path));
  return { evicted, fits: usedBytes + options.incomingBytes <= options.maxBytes, usedBytes };
}

export interface DropResult {
  dropped: EvictedFile[];
  /** Files an export still uses: never removed. */
  kept: string[];
}

/** Removes the given cached files and their partial downloads, except those an export uses. */
export async function dropCachedFiles(runner: CommandRunner, options: { dir: string; files: string[]; inUse: string[]; dryRun: boolean }): Promise<DropResult> {
  const inUse = new Set(options.inUse.map((file) => path.resolve(file)));
  const wanted = options.files.map((file) => path.resolve(file));
  const matching = (await listCache(runner, options.dir)).filter((file) => wanted.some((w) => file.path === w || file.path.startsWith(w + partialMarker)));
  const [kept, dropped] = [matching.filter((file) => inUse.has(file.path)), matching.filter((file) => !inUse.has(file.path))];
  if (!options.dryRun) await removeFiles(runner, dropped.map((file) => file.path));
  return { dropped: dropped.map(({ path: file, sizeBytes }) => ({ path: file, sizeBytes })), kept: kept.map((file) => file.path) };
}
