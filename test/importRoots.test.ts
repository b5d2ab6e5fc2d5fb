// Imports read files only under IMPORT_ROOTS: a path is judged by where it really leads.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importRootsFromEnv, resolveUnderRoots } from '../activities/import/importRoots';
import { createImportPreflightActivities } from '../activities/import/preflight';
import { ObjectStore } from '../activities/manifest/objectStore';
import { createS3Client } from '../activities/s3/client';
import { createS3ImportActivities } from '../activities/s3/activities';
import { MockActivityEnvironment } from '@temporalio/testing';
import { devStack } from '../dev/config';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'import-roots-'));
const root = path.join(base, 'root');
const outside = path.join(base, 'outside');
fs.mkdirSync(root);
fs.mkdirSync(outside);
fs.writeFileSync(path.join(root, 'rootfs.squashfs'), 'inside\n');
fs.writeFileSync(path.join(outside, 'secret.key'), 'outside\n');
fs.symlinkSync(path.join(outside, 'secret.key'), path.join(root, 'escape'));
fs.symlinkSync(outside, path.join(root, 'dir-escape'));
fs.symlinkSync(path.join(root, 'rootfs.squashfs'), path.join(outside, 'into-root'));
const roots = [root];

const refusal = (file: string) => resolveUnderRoots(file, roots).then(() => 'accepted', (error: Error) => error.message);

describe('import roots', () => {
  it('accepts a file under a root, also through a symlink that leads inside', async () => {
    expect(await resolveUnderRoots(path.join(root, 'rootfs.squashfs'), roots)).toBe(fs.realpathSync(path.join(root, 'rootfs.squashfs')));
    expect(await resolveUnderRoots(path.join(outside, 'into-root'), roots)).toBe(fs.realpathSync(path.join(root, 'rootfs.squashfs')));
  });

  it('refuses files outside, `..` and symlinks escaping the root, relative paths and the root itself, naming the roots', async () => {
    expect(await refusal('/etc/passwd')).toBe(`/etc/passwd is outside the import roots ${root}: files are imported only from there (IMPORT_ROOTS)`);
    expect(await refusal(path.join(root, '..', 'outside', 'secret.key'))).toMatch(/is outside the import roots/);
    expect(await refusal(path.join(root, 'escape'))).toBe(`${path.join(root, 'escape')} (it leads to ${fs.realpathSync(path.join(outside, 'secret.key'))}) is outside the import roots ${root}: files are imported only from there (IMPORT_ROOTS)`);
    expect(await refusal(path.join(root, 'dir-escape', 'secret.key'))).toMatch(/\(it leads to .*outside\/secret\.key\) is outside the import roots/);
    expect(await refusal('rootfs.squashfs')).toBe('rootfs.squashfs: an import file must be an absolute path');
    expect(await refusal(root)).toMatch(/is outside the import roots/);
    expect(await refusal(path.join(root, 'missing'))).toBe(`${path.join(root, 'missing')}: no such file`);
  });

  it('reads IMPORT_ROOTS (":"-separated absolute directories) with a documented default', () => {
    expect(importRootsFromEnv({})).toEqual(['/var/lib/boot-images/import']);
    expect(importRootsFromEnv({ IMPORT_ROOTS: '/srv/images:/data/import' })).toEqual(['/srv/images', '/data/import']);
    expect(() => importRootsFromEnv({ IMPORT_ROOTS: 'images' })).toThrow(/absolute directories/);
  });

  it('the import checks and the upload refuse a file outside the roots before reading it', async () => {
    const s3 = createS3Client(devStack.s3);
    const preflight = createImportPreflightActivities(new ObjectStore(s3), roots);
    await expect(preflight.checkImportSources({ sources: [{ kind: 'rootfs', source: { file: path.join(root, 'escape') } }] })).rejects.toThrow(
      /import sources unusable: rootfs: .*escape \(it leads to .*secret\.key\) is outside the import roots/,
    );
    const checked = await preflight.checkImportSources({ sources: [{ kind: 'rootfs', source: { file: path.join(root, 'rootfs.squashfs') } }] });
    expect(checked[0].size).toBe(7);
    const { uploadArtifact } = createS3ImportActivities(s3, { partSizeMiB: 5 }, roots);
    await expect(new MockActivityEnvironment().run(uploadArtifact, { file: path.join(root, 'escape'), bucket: 'boot-images', key: 'import-roots/escape' })).rejects.toMatchObject({
      type: 'InvalidInput',
      nonRetryable: true,
    });
  });
});
