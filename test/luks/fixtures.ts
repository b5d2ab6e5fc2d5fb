// Shared set-up for the LUKS tests: a scratch directory, a real squashfs, and the volume key of a
// container as cryptsetup unlocks it (to look for leaks).
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const scratchDir = (name: string) => mkdtempSync(path.join(tmpdir(), `luks-${name}-`));

/** A squashfs of random files; `nopad` leaves its size off the 4 KiB grid, to exercise sector padding. */
export async function makeSquashfs(dir: string, name: string, { nopad = false } = {}): Promise<string> {
  const tree = path.join(dir, `${name}-tree`);
  mkdirSync(path.join(tree, 'etc'), { recursive: true });
  writeFileSync(path.join(tree, 'etc', 'os-release'), 'NAME="test rootfs"\n');
  for (let i = 0; i < 3; i++) writeFileSync(path.join(tree, `blob${i}`), randomBytes(700_000 + i * 12_345));
  const image = path.join(dir, `${name}.squashfs`);
  await execa('mksquashfs', [tree, image, '-noappend', '-no-progress', '-comp', 'gzip', ...(nopad ? ['-nopad'] : [])]);
  return image;
}

export async function volumeKeyOf(container: string, keyFile: string, dir: string): Promise<Buffer> {
  const out = path.join(dir, `vk-${randomBytes(4).toString('hex')}`);
  await execa('cryptsetup', ['luksDump', '--batch-mode', '--dump-volume-key', '--volume-key-file', out, '--key-file', keyFile, container]);
  return readFileSync(out);
}

/** Every way a key could show up in serialized output. */
export const secretForms = (key: Buffer): string[] => [key.toString('hex'), key.toString('base64'), key.toString('base64url'), key.toString('latin1')];
