// Builds the compute-node initramfs (node/README.md) from the Debian packages installed on this machine:
// bootimg-root as /init, a static busybox, open-iscsi, multipath-tools, cryptsetup, dmsetup, systemd-udevd
// with the rules multipath needs, dropbear, kmod, every shared library their ldd lists, and the kernel
// modules of the boot path with a depmod'ed module tree (the kernel then loads the crypto modules itself).
// Usage: npm run build:initramfs -- --kernel 6.1.0-57-amd64 --authorized-keys orchestrator.pub --output node.cpio [--module mlx5_core ...]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { buildInitramfsToolsImage } from '../initramfs-tools/build';
import { bootModules, moduleLoadOrder, requestedModules } from './modules';

export interface NodeInitramfsOptions {
  kernelVersion: string;
  /** The orchestrator's SSH public keys: who may log in to push the node's secrets. */
  authorizedKeys: string;
  output: string;
  /** More modules loaded at boot: the site's network drivers, say. */
  extraModules?: string[];
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

const programs = [
  '/usr/sbin/iscsid',
  '/usr/sbin/iscsiadm',
  '/usr/sbin/multipath',
  '/usr/sbin/multipathd',
  '/usr/sbin/cryptsetup',
  '/usr/sbin/dmsetup',
  '/lib/systemd/systemd-udevd',
  '/usr/bin/udevadm',
  '/lib/udev/scsi_id',
  '/usr/sbin/dropbear',
  '/usr/sbin/modprobe',
];
const multipathPlugins = '/lib/multipath';
/** glibc loads it at the first pthread_cancel (multipathd's threads); ldd does not list it. */
const dlopened = ['/lib/x86_64-linux-gnu/libgcc_s.so.1'];
/** What the paths of an iSCSI LUN and its device-mapper maps need from udev: WWIDs, dm names, multipath's claim. */
const udevRules = ['50-udev-default', '60-block', '60-persistent-storage', '55-dm', '60-persistent-storage-dm', '95-dm-notify', '56-dm-mpath', '60-multipath'].map((name) => `/lib/udev/rules.d/${name}.rules`);

/** Where a host file goes in the tree: its directory resolved (Debian's /lib is usr/lib), its own name kept. */
const treePath = (file: string) => path.join(fs.realpathSync(path.dirname(file)), path.basename(file));

async function sharedLibraries(files: string[]): Promise<string[]> {
  const libraries = new Set<string>();
  for (const file of files) {
    const { stdout } = await execa('ldd', [file]);
    for (const line of stdout.split('\n')) {
      const library = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(line)?.[1];
      if (library) libraries.add(library);
    }
  }
  return [...libraries];
}

/** Every path under `dir`, relative; links are entries, never followed (readdir's recursive mode follows them). */
function treeEntries(dir: string, prefix = ''): string[] {
  return fs.readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(prefix, entry.name);
    return entry.isDirectory() ? [relative, ...treeEntries(dir, relative)] : [relative];
  });
}

export async function buildNodeInitramfs(options: NodeInitramfsOptions): Promise<{ output: string; bytes: number }> {
  const { kernelVersion } = options;
  const moduleDir = `/lib/modules/${kernelVersion}`;
  if (!fs.existsSync(moduleDir)) throw new Error(`no modules for kernel ${kernelVersion} in ${moduleDir}: install its linux-image package`);
  const plugins = fs.readdirSync(multipathPlugins).map((name) => path.join(multipathPlugins, name));
  const binaries = [...programs, ...plugins];
  for (const file of binaries) if (!fs.existsSync(file)) throw new Error(`${file} not found: run dev/setup.sh (it installs the Debian packages the initramfs is made of)`);
  const loaded = [...bootModules, ...(options.extraModules ?? [])];
  const modules = await moduleLoadOrder(kernelVersion, [...loaded, ...requestedModules]);

  const tree = fs.mkdtempSync(path.join(path.dirname(path.resolve(options.output)), '.initramfs-tree-'));
  const partial = `${options.output}.partial-${process.pid}`;
  const put = (file: string, content: string | Buffer, mode = 0o644) => {
    fs.mkdirSync(path.join(tree, path.dirname(file)), { recursive: true });
    fs.writeFileSync(path.join(tree, file), content, { mode });
  };
  const copy = (from: string, to = treePath(from)) => {
    fs.mkdirSync(path.join(tree, path.dirname(to)), { recursive: true });
    fs.copyFileSync(from, path.join(tree, to));
    fs.chmodSync(path.join(tree, to), fs.statSync(from).mode & 0o777);
  };
  try {
    // Debian's merged /usr: /bin, /sbin, /lib and /lib64 are links into /usr, as on the host the files come from.
    for (const dir of ['usr/bin', 'usr/sbin', 'usr/lib', 'usr/lib64', 'dev', 'proc', 'sys', 'run', 'tmp', 'etc/iscsi']) fs.mkdirSync(path.join(tree, dir), { recursive: true });
    for (const dir of ['bin', 'sbin', 'lib', 'lib64']) fs.symlinkSync(`usr/${dir}`, path.join(tree, dir));
    copy('/bin/busybox');
    // A multi-call program (systemd-udevd is udevadm, modprobe is kmod) stays a link to the one copy.
    for (const file of binaries.filter((f) => fs.lstatSync(f).isSymbolicLink())) {
      copy(fs.realpathSync(file));
      fs.mkdirSync(path.join(tree, path.dirname(treePath(file))), { recursive: true });
      fs.symlinkSync(fs.realpathSync(file), path.join(tree, treePath(file)));
    }
    const files = binaries.filter((f) => !fs.lstatSync(f).isSymbolicLink());
    for (const file of [...files, ...(await sharedLibraries(binaries)), ...dlopened, ...udevRules]) copy(file);

    for (const { file } of modules) copy(file);
    for (const list of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) copy(path.join(moduleDir, list));
    await execa('depmod', ['-b', tree, kernelVersion]);

    copy(here('./bootimg-root'), '/init');
    copy(here('./bootimg-lib.sh'), '/etc/bootimg/lib.sh');
    copy(here('./iscsid.conf'), '/etc/bootimg/iscsid.conf');
    copy(here('./multipath.conf'), '/etc/bootimg/multipath.conf');
    copy(here('./udhcpc.script'), '/etc/bootimg/udhcpc.script');
    put('etc/bootimg/modules', loaded.join('\n') + '\n');
    put('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
    put('etc/group', 'root:x:0:\n');
    put('etc/shells', '/bin/sh\n');
    fs.mkdirSync(path.join(tree, 'root/.ssh'), { recursive: true, mode: 0o700 });
    fs.chmodSync(path.join(tree, 'root'), 0o700);
    put('root/.ssh/authorized_keys', fs.readFileSync(options.authorizedKeys), 0o600);

    // Sorted, so each directory comes before what it holds (the kernel unpacks in archive order).
    const entries = treeEntries(tree).sort();
    await execa('cpio', ['--quiet', '-o', '-H', 'newc', '-R', '0:0'], { cwd: tree, input: entries.join('\n') + '\n', stdout: { file: partial } });
    fs.renameSync(partial, options.output);
  } finally {
    fs.rmSync(tree, { recursive: true, force: true });
    fs.rmSync(partial, { force: true });
  }
  return { output: options.output, bytes: fs.statSync(options.output).size };
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { kernel: { type: 'string' }, 'authorized-keys': { type: 'string' }, output: { type: 'string' }, module: { type: 'string', multiple: true }, flavour: { type: 'string', default: 'bootimg' } },
  });
  const flavours: Record<string, (options: NodeInitramfsOptions) => Promise<{ output: string; bytes: number }>> = {
    bootimg: buildNodeInitramfs,
    'initramfs-tools': buildInitramfsToolsImage,
  };
  const build = Object.hasOwn(flavours, values.flavour) ? flavours[values.flavour] : undefined;
  if (!values.kernel || !values['authorized-keys'] || !values.output || !build) {
    console.error('usage: npm run build:initramfs -- --kernel <version> --authorized-keys <file> --output <file> [--module <name> ...] [--flavour bootimg|initramfs-tools]');
    process.exit(2);
  }
  const built = await build({ kernelVersion: values.kernel, authorizedKeys: values['authorized-keys'], output: values.output, extraModules: values.module });
  console.log(`${built.output}: ${(built.bytes / 1024 / 1024).toFixed(1)} MiB`);
}
