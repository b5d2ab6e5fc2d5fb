// Builds the compute-node initramfs the initramfs-tools way (node/README.md): Debian's mkinitramfs with a
// private configuration directory holding the bootimg hook and boot script, so the image boots with
// `boot=bootimg` and everything else initramfs-tools does (udev, kmod, busybox, run-init) as on any Debian node.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { NodeInitramfsOptions } from '../initramfs/build';
import { bootModules, requestedModules } from '../initramfs/modules';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

export async function buildInitramfsToolsImage(options: NodeInitramfsOptions): Promise<{ output: string; bytes: number }> {
  if (!fs.existsSync('/usr/sbin/mkinitramfs')) throw new Error('mkinitramfs not found: install initramfs-tools');
  const confDir = fs.mkdtempSync(path.join(path.dirname(path.resolve(options.output)), '.initramfs-tools-conf-'));
  const partial = `${options.output}.partial-${process.pid}`;
  try {
    for (const dir of ['hooks', 'scripts', 'conf.d']) fs.mkdirSync(path.join(confDir, dir));
    fs.copyFileSync(here('./hooks/bootimg'), path.join(confDir, 'hooks/bootimg'));
    fs.chmodSync(path.join(confDir, 'hooks/bootimg'), 0o755);
    fs.copyFileSync(here('./scripts/bootimg'), path.join(confDir, 'scripts/bootimg'));
    // MODULES=list: only what the hook and the modules file name, not the build host's own drivers.
    fs.writeFileSync(path.join(confDir, 'initramfs.conf'), 'MODULES=list\nBUSYBOX=y\nCOMPRESS=gzip\n');
    fs.writeFileSync(path.join(confDir, 'modules'), '');
    await execa('mkinitramfs', ['-d', confDir, '-o', partial, options.kernelVersion], {
      env: { BOOTIMG_FILES: path.dirname(here('../initramfs/bootimg-lib.sh')), BOOTIMG_MODULES: [...bootModules, ...(options.extraModules ?? [])].join(' '), BOOTIMG_REQUESTED_MODULES: requestedModules.join(' '), BOOTIMG_AUTHORIZED_KEYS: path.resolve(options.authorizedKeys) },
    });
    fs.renameSync(partial, options.output);
  } finally {
    fs.rmSync(confDir, { recursive: true, force: true });
    fs.rmSync(partial, { force: true });
  }
  return { output: options.output, bytes: fs.statSync(options.output).size };
}
