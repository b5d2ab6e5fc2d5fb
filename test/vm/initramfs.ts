// The guests' initramfs: a static busybox, initramfs/init, and the modules that reach the host root
// (virtio, 9p, overlay) with their dependencies in the order `modprobe --show-depends` gives. Cached
// under .dev/vm by a digest of every input, so a changed kernel, busybox or init rebuilds it.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { moduleLoadOrder } from '../../node/initramfs/modules';
import { busyboxBinary, vmDir } from './hostTools';

const bootModules = ['virtio_pci', 'virtio_net', '9pnet_virtio', '9p', 'overlay'];
const initScript = fileURLToPath(new URL('./initramfs/init', import.meta.url));

/** Guests started together share one build. */
const builds = new Map<string, Promise<string>>();

export function buildInitramfs(kernelVersion: string): Promise<string> {
  if (!builds.has(kernelVersion)) builds.set(kernelVersion, build(kernelVersion).finally(() => builds.delete(kernelVersion)));
  return builds.get(kernelVersion)!;
}

async function build(kernelVersion: string): Promise<string> {
  const modules = await moduleLoadOrder(kernelVersion, bootModules);
  const digest = createHash('sha256').update(JSON.stringify(modules));
  for (const file of [initScript, busyboxBinary, ...modules.map((m) => m.file)]) digest.update(file).update(fs.readFileSync(file));
  const output = path.join(vmDir, `initramfs-${kernelVersion}-${digest.digest('hex').slice(0, 16)}.cpio`);
  if (fs.existsSync(output)) return output;

  fs.mkdirSync(vmDir, { recursive: true });
  const tree = fs.mkdtempSync(path.join(vmDir, 'initramfs-tree-'));
  const partial = `${output}.partial-${process.pid}`;
  try {
    for (const dir of ['bin', 'dev', 'proc', 'sys']) fs.mkdirSync(path.join(tree, dir));
    fs.copyFileSync(busyboxBinary, path.join(tree, 'bin/busybox'));
    fs.copyFileSync(initScript, path.join(tree, 'init'));
    fs.chmodSync(path.join(tree, 'bin/busybox'), 0o755);
    fs.chmodSync(path.join(tree, 'init'), 0o755);
    for (const { file } of modules) {
      fs.mkdirSync(path.join(tree, path.dirname(file)), { recursive: true });
      fs.copyFileSync(file, path.join(tree, file));
    }
    fs.writeFileSync(path.join(tree, 'modules'), modules.map((m) => `${m.file} ${m.params}`.trim() + '\n').join(''));
    // Sorted, so each directory comes before what it holds (the kernel unpacks in archive order).
    const entries = fs.readdirSync(tree, { recursive: true, encoding: 'utf8' }).sort();
    await execa('cpio', ['--quiet', '-o', '-H', 'newc', '-R', '0:0'], { cwd: tree, input: entries.join('\n') + '\n', stdout: { file: partial } });
    fs.renameSync(partial, output);
  } finally {
    fs.rmSync(tree, { recursive: true, force: true });
    fs.rmSync(partial, { force: true });
  }
  for (const old of fs.readdirSync(vmDir).filter((f) => f.startsWith('initramfs-') && f.endsWith('.cpio'))) {
    if (path.join(vmDir, old) !== output) fs.rmSync(path.join(vmDir, old));
  }
  return output;
}
