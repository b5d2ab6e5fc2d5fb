// Unpacking and repacking an image root the way an IMS customization job does, owners, modes,
// device nodes and (as root) extended attributes such as file capabilities kept. As root that is
// what unsquashfs and mksquashfs do by themselves. As any other user both run under fakeroot,
// sharing one state file: files keep their owners and device nodes, and files the layers create
// are root's, as under CFS's Ansible; only security.* extended attributes are lost.
import { execa } from 'execa';
import path from 'node:path';

const isRoot = process.getuid?.() === 0;

function privileged(command: string, args: string[], fakerootMode: '-s' | '-i', stateFile: string) {
  return isRoot ? execa(command, args) : execa('fakeroot', [fakerootMode, stateFile, '--', command, ...args]);
}

/** Unpacks `image` into `root` (which must not exist); `work` keeps fakeroot's state for `pack`. */
export async function unpack(image: string, root: string, work: string): Promise<void> {
  await privileged('unsquashfs', ['-quiet', '-no-progress', '-d', root, image], '-s', path.join(work, 'fakeroot.state'));
}

export async function pack(root: string, image: string, work: string): Promise<void> {
  await privileged('mksquashfs', [root, image, '-noappend', '-quiet', '-no-progress'], '-i', path.join(work, 'fakeroot.state'));
}
