// Kernel modules for an initramfs: the module files `modprobe -S <kver> --show-depends` lists, dependencies
// first, each once (built-in modules need none). The kernel cannot resolve dependencies from an initramfs
// that has no module lists, so either insmod them in this order or ship the files with a depmod'ed tree.
import { execa } from 'execa';

/** Loaded by bootimg-root at boot; modprobe brings their dependencies. */
export const bootModules = ['virtio_pci', 'virtio_net', 'sd_mod', 'iscsi_tcp', 'dm_multipath', 'dm_round_robin', 'dm_service_time', 'dm_crypt', 'squashfs', 'overlay'];
/** Shipped for the kernel to request: dm-crypt's cipher, iscsi_tcp's digest, cryptsetup's AF_ALG. */
export const requestedModules = ['xts', 'aesni_intel', 'crc32c_generic', 'crc32c_intel', 'af_alg', 'algif_skcipher', 'algif_hash'];

export interface ModuleLoad {
  file: string;
  params: string;
}

export async function moduleLoadOrder(kernelVersion: string, modules: string[]): Promise<ModuleLoad[]> {
  const order = new Map<string, string>();
  for (const module of modules) {
    const { stdout } = await execa('modprobe', ['-S', kernelVersion, '--show-depends', module]);
    for (const line of stdout.split('\n')) {
      const match = /^insmod (\S+)\s*(.*)$/.exec(line.trim());
      if (match && !order.has(match[1])) order.set(match[1], match[2]);
    }
  }
  return [...order].map(([file, params]) => ({ file, params }));
}
