// A small but real boot image: a squashfs root made with mksquashfs, plus kernel and initrd files.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface SampleImage {
  rootfs: string;
  kernel: string;
  initrd: string;
}

/** Deterministic incompressible bytes, so squashfs and S3 part counts are the same every run. */
function pseudoRandomBytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let offset = 0; offset < size; offset += block.length) {
    block.copy(out, offset);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** `files`: more files of the image, by absolute path in it (a marker a test reads back from a node, say). */
export async function makeSampleImage(dir: string, options: { payloadMiB?: number; label?: string; files?: Record<string, string> } = {}): Promise<SampleImage> {
  const label = options.label ?? 'sample';
  const root = path.join(dir, 'root');
  fs.rmSync(dir, { recursive: true, force: true });
  for (const sub of ['etc', 'usr/lib/sample', 'bin']) fs.mkdirSync(path.join(root, sub), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/os-release'), `NAME="Sample Compute"\nID=sample\nVERSION_ID="${label}"\n`);
  fs.writeFileSync(path.join(root, 'etc/hostname'), 'compute\n');
  fs.writeFileSync(path.join(root, 'usr/lib/sample/payload.bin'), pseudoRandomBytes(label, (options.payloadMiB ?? 12) * 1024 * 1024));
  for (const [file, content] of Object.entries(options.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), content);
  }
  const image: SampleImage = {
    rootfs: path.join(dir, 'rootfs.squashfs'),
    kernel: path.join(dir, 'vmlinuz'),
    initrd: path.join(dir, 'initrd.img'),
  };
  await execa('mksquashfs', [root, image.rootfs, '-noappend', '-quiet', '-comp', 'gzip', '-all-root']);
  fs.writeFileSync(image.kernel, pseudoRandomBytes(`${label}-kernel`, 3 * 1024 * 1024 + 17));
  fs.writeFileSync(image.initrd, pseudoRandomBytes(`${label}-initrd`, 2 * 1024 * 1024 + 5));
  fs.rmSync(root, { recursive: true });
  return image;
}
