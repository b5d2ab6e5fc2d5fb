// What the VM tier needs from the host, found or refused with the reason: QEMU, Debian's kernel and its
// modules, a static busybox. Never a silent skip: a machine without them fails the tier.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { stateDir } from '../../dev/config';

/** The harness's own files: the initramfs cache, SSH keys, default guest state directories. */
export const vmDir = path.join(stateDir, 'vm');

export const qemuBinary = '/usr/bin/qemu-system-x86_64';
export const busyboxBinary = '/bin/busybox';

export interface Kernel {
  version: string;
  image: string;
}

const missing = (what: string, packageName: string) => new Error(`VM tier: ${what}; install the Debian package ${packageName} (dev/setup.sh does)`);

/** The newest kernel that has both an image in /boot and modules in /lib/modules. */
export function findKernel(): Kernel {
  const versions = fs.existsSync('/lib/modules') ? fs.readdirSync('/lib/modules').filter((v) => fs.existsSync(`/boot/vmlinuz-${v}`)) : [];
  const version = versions.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1);
  if (!version) throw missing('no kernel with modules (/boot/vmlinuz-<version> and /lib/modules/<version>)', 'linux-image-amd64');
  return { version, image: `/boot/vmlinuz-${version}` };
}

export async function requireHostTools(): Promise<void> {
  if (!fs.existsSync(qemuBinary)) throw missing(`${qemuBinary} not found`, 'qemu-system-x86');
  if (!fs.existsSync(busyboxBinary)) throw missing(`${busyboxBinary} not found`, 'busybox-static');
  // ldd exits 1 on a static binary; a dynamic busybox cannot run from the initramfs.
  if ((await execa('ldd', [busyboxBinary], { reject: false })).exitCode === 0) throw missing(`${busyboxBinary} is dynamically linked`, 'busybox-static');
}
