// The invariant checker of the reliability suite finds each kind of damage it looks for, on a made-up
// run whose traces are put into the real stack: two IMS images of one name, an unfinished multipart
// upload, a manifest etag S3 does not have, an export that is not there, a BSS entry not as planned,
// and a plaintext copy, a key and a stray file left in temporary places.
import { CreateMultipartUploadCommand, AbortMultipartUploadCommand } from '@aws-sdk/client-s3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileKeyStore } from '../activities/keys/fileKeyStore';
import { stackEnvironment } from '../dev/config';
import { makeSampleImage } from '../dev/sampleImage';
import { parseS3Url } from '../lib/manifest';
import type { LifecycleSummary } from '../workflows/imageLifecycle';
import { ims, s3, seedImage, type SeededImage } from './helpers/images';
import { keyForms } from './helpers/history';
import { lifecycleViolations } from './helpers/invariants';
import { uniqueId } from './helpers/temporal';

describe('lifecycle invariants', () => {
  const env = stackEnvironment();
  const left: string[] = [];
  let dir: string;
  let image: SeededImage;
  let summary: LifecycleSummary;
  let uploadId: string;
  let uploadKey: { Bucket: string; Key: string };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'invariants-'));
    const sample = await makeSampleImage(path.join(dir, 'image'), { payloadMiB: 1, label: uniqueId('invariants') });
    const name = uniqueId('invariants');
    // The kernel's etag in the manifest is not S3's: a manifest naming a partial or other object.
    image = await seedImage(sample, { name, edit: (manifest) => void (manifest.artifacts[1].link.etag = '0123456789abcdef0123456789abcdef') });
    await ims.createImage({ name });
    const rootfs = image.manifest.artifacts[0];
    const { bucket, key } = parseS3Url(rootfs.link.path);
    uploadKey = { Bucket: bucket, Key: key.replace(/rootfs$/, 'rootfs.luks') };
    uploadId = (await s3.send(new CreateMultipartUploadCommand(uploadKey))).UploadId!;
    const keyStore = createFileKeyStore(env.LUKS_KEY_DIR);
    const { keyId } = await keyStore.createKey();
    const keyBytes = await keyStore.getKey(keyId);
    summary = {
      name,
      imageId: image.imageId,
      manifest: { path: image.manifestPath, etag: 'unused' },
      phases: {
        import: { imageId: image.imageId, manifest: { path: image.manifestPath, etag: 'unused' }, artifacts: image.manifest.artifacts },
        encrypt: { imageId: image.imageId, encrypted: true, artifact: { ...rootfs, link: { path: `s3://${uploadKey.Bucket}/${uploadKey.Key}`, etag: 'none', type: 's3' }, luks: { keyId, fingerprint: 'x', uuid: 'x', luksVersion: 2, sectorSize: 4096, source: { path: rootfs.link.path, etag: rootfs.link.etag! } } }, manifest: { path: image.manifestPath, etag: 'unused' } },
        export: { imageId: image.imageId, layout: 'per-image', artifact: { path: rootfs.link.path, etag: rootfs.link.etag!, md5: rootfs.md5! }, servers: [] },
      },
    } as unknown as LifecycleSummary;
    const place = (relative: string, body: Buffer | string) => {
      const file = path.join(relative.startsWith('/') ? '' : env.LUKS_WORK_DIR, relative);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, body);
      left.push(file);
      return file;
    };
    place(`cache/${uniqueId('staged')}.img`, fs.readFileSync(sample.rootfs));
    place(`secrets/${uniqueId('verify')}/key`, `key: ${keyForms(keyBytes)[1]}\n`);
    place(path.join(env.LUKS_KEY_DIR, `.${keyId}.tmp`), 'half-written');
    left.push(path.join(env.LUKS_KEY_DIR, `${keyId}.key`));
  });

  afterAll(async () => {
    for (const file of left) fs.rmSync(file, { force: true });
    await s3.send(new AbortMultipartUploadCommand({ ...uploadKey, UploadId: uploadId })).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('names every violation, each under its invariant', async () => {
    const node = 'x9999c0s0b0n0';
    const violations = await lifecycleViolations({
      summary,
      servers: ['iscsi1'],
      bss: { [node]: { kernel: 'k', initrd: 'i', params: 'p' } },
      readBss: async () => ({ [node]: { kernel: 'k', initrd: 'i', params: 'other' } }),
    });
    const rootfs = image.manifest.artifacts[0].link.path;
    expect(violations).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^one IMS image per image: 2 IMS images are named ${summary.name}`)),
        expect.stringMatching(new RegExp(`^no orphan multipart upload: s3://${uploadKey.Bucket}/${uploadKey.Key} has unfinished upload ${uploadId}`)),
        expect.stringMatching(new RegExp(`^one export per server: iscsi1 serves ${rootfs} 0 times`)),
        `BSS as expected: ${node} params is "other", expected "p"`,
        expect.stringMatching(/^manifests whole: .*\/kernel has ETag .* 0123456789abcdef0123456789abcdef in /),
        expect.stringMatching(new RegExp(`^no secret or plaintext left: ${left[0]} is a copy of the plaintext rootfs`)),
        expect.stringMatching(new RegExp(`^no secret or plaintext left: ${left[1]} holds the LUKS key`)),
        expect.stringMatching(new RegExp(`^no secret or plaintext left: ${left[2].replaceAll('.', '\\.')} is not a key file of the key store`)),
      ]),
    );
    expect(violations).toHaveLength(8);
  });
});
