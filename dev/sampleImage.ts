// A small but real boot image: a squashfs root made with mksquashfs, plus kernel and initrd files.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

const sampleInit = fileURLToPath(new URL('./sampleInit.sh', import.meta.url));

export interface SampleImageOptions {
  payloadMiB?: number;
  label?: string;
  /** More files of the image, by absolute path in it (a marker a test reads back from a node, say). */
  files?: Record<string, string>;
  /** A bootable userland: the host's static busybox and an /sbin/init (sampleInit.sh) that prints these files, reads the payload and powers off. */
  userland?: { report: string[] };
}

/** The static busybox with a link per applet, and the init that reports from the booted image. */
async function addUserland(root: string, payload: Buffer, report: string[]): Promise<void> {
  fs.mkdirSync(path.join(root, 'sbin'), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(root, 'bin/busybox'));
  fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
  const { stdout } = await execa('/bin/busybox', ['--list']);
  for (const applet of stdout.split('\n').filter((name) => name && name !== 'busybox')) fs.symlinkSync('busybox', path.join(root, 'bin', applet));
  fs.copyFileSync(sampleInit, path.join(root, 'sbin/init'));
  fs.chmodSync(path.join(root, 'sbin/init'), 0o755);
  fs.mkdirSync(path.join(root, 'etc/sample-init'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/sample-init/report'), report.map((file) => `${file}\n`).join(''));
  fs.writeFileSync(path.join(root, 'usr/lib/sample/payload.md5'), createHash('md5').update(payload).digest('hex') + '\n');
}

export async function makeSampleImage(dir: string, options: SampleImageOptions = {}): Promise<SampleImage> {
  const label = options.label ?? 'sample';
  const root = path.join(dir, 'root');
  fs.rmSync(dir, { recursive: true, force: true });
  for (const sub of ['etc', 'usr/lib/sample', 'bin']) fs.mkdirSync(path.join(root, sub), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/os-release'), `NAME="Sample Compute"\nID=sample\nVERSION_ID="${label}"\n`);
  fs.writeFileSync(path.join(root, 'etc/hostname'), 'compute\n');
  const payload = pseudoRandomBytes(label, (options.payloadMiB ?? 12) * 1024 * 1024);
  fs.writeFileSync(path.join(root, 'usr/lib/sample/payload.bin'), payload);
  for (const [file, content] of Object.entries(options.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), content);
  }
  if (options.userland) await addUserland(root, payload, options.userland.report);
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
