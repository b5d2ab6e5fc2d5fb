// The customization's unpack/repack keeps what an image root needs, whether the simulator runs as
// root or not (then under fakeroot): owners, modes and device nodes; new files are root's.
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { pack, unpack } from '../../sim/squashfs';

it(`repacks an image root with owners, modes and device nodes kept (running as uid ${process.getuid?.()})`, async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-squashfs-'));
  const source = path.join(work, 'source');
  fs.mkdirSync(path.join(source, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(source, 'etc/munge.key'), 'secret\n');
  const original = path.join(work, 'original.squashfs');
  // Pseudo definitions give the source a device node and a non-root owner without privileges.
  await execa('mksquashfs', [source, original, '-noappend', '-quiet', '-no-progress', '-p', 'dev d 755 0 0', '-p', 'dev/null c 666 0 0 1 3', '-p', 'etc/munge.key m 600 123 456']);

  const root = path.join(work, 'root');
  await unpack(original, root, work);
  fs.writeFileSync(path.join(root, 'etc/motd'), 'customized\n');
  const result = path.join(work, 'result.squashfs');
  await pack(root, result, work);

  const listing = (await execa('unsquashfs', ['-lln', result])).stdout;
  expect(listing).toMatch(/^crw-rw-rw- 0\/0 +1, +3 .* squashfs-root\/dev\/null$/m);
  expect(listing).toMatch(/^-rw------- 123\/456 .* squashfs-root\/etc\/munge\.key$/m);
  expect(listing).toMatch(/^-rw-r--r-- 0\/0 .* squashfs-root\/etc\/motd$/m);
  fs.rmSync(work, { recursive: true, force: true });
});
