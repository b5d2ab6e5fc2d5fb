import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stageArtifact, stagedPath, type Progress } from '../../activities/export/staging';
import { fileSecretResolver } from '../../activities/export/secrets';
import { redact, localRunner } from '../../activities/export/commandRunner';
import { dropCachedFiles } from '../../activities/export/stagingCache';
import { readSettings } from '../../settings/load';
import { rgw16Client } from '../helpers/rgw16Client';
import { s3ClientOf, s3Servers } from '../helpers/s3Servers';

// Against each of the dev stack's S3 servers, through the local command runner (test/export/sshStaging.test.ts
// runs the same code over SSH).
describe.each(s3Servers)('stageArtifact on $backend', (server) => {
  const s3 = s3ClientOf(server);
  // Unequal parts need a server that tells part layouts; RGW 16 does not (PartLayoutUnknown, below).
  const tellsLayouts = server.backend !== 'rgw';
  const runner = localRunner();
  const bucket = 'boot-images';
  const prefix = `export-test/${randomUUID()}`;
  const single = randomBytes(300_000 + 17);
  // Unequal parts on purpose: the ETag must follow S3's part boundaries, not a guessed part size.
  const parts = [randomBytes(6 * 1024 * 1024), randomBytes(5 * 1024 * 1024), randomBytes(1234)];
  // 8 MiB parts, as the AWS CLI uploads: derivable where the server tells no layout.
  const even = randomBytes(8 * 1024 * 1024 + 4096);
  const small = { a: randomBytes(100_000), b: randomBytes(100_000), c: randomBytes(100_000) };
  const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
  const etags: Record<string, string> = {};
  let multiEtag: string;
  let evenEtag: string;
  let root: string;
  let cacheDir: string;
  let umask: number;

  const put = async (name: string, body: Buffer) => {
    etags[name] = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${name}`, Body: body }))).ETag!.replaceAll('"', '');
  };
  const requestFor = (name: string, body: Buffer) => ({ linkPath: `s3://${bucket}/${prefix}/${name}`, linkEtag: etags[name], md5: md5(body) });

  beforeAll(async () => {
    umask = process.umask(0o000); // the most permissive: modes must not depend on it
    root = await mkdtemp(path.join(tmpdir(), 'staging-'));
    cacheDir = path.join(root, 'cache');
    await put('single', single);
    for (const [name, body] of Object.entries(small)) await put(name, body);
    multiEtag = await putInParts('multi', parts);
    evenEtag = await putInParts('even', [even.subarray(0, 8 * 1024 * 1024), even.subarray(8 * 1024 * 1024)]);
  });

  /** A multipart upload of these parts; S3's ETag from HEAD (RGW's CompleteMultipartUpload answer can carry an empty one). */
  async function putInParts(name: string, bodies: Buffer[]): Promise<string> {
    const Key = `${prefix}/${name}`;
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
    const uploaded = [];
    for (const [i, Body] of bodies.entries()) {
      uploaded.push({ PartNumber: i + 1, ETag: (await s3.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: i + 1, Body }))).ETag });
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId, MultipartUpload: { Parts: uploaded } }));
    return (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key }))).ETag!.replaceAll('"', '');
  }

  afterAll(async () => {
    process.umask(umask);
    for (const key of ['single', 'multi', 'even', ...Object.keys(small)]) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}` }));
    await rm(root, { recursive: true, force: true });
  });

  it('downloads once, verified, private (0400 in a 0700 directory under umask 000), reporting progress', async () => {
    const request = requestFor('single', single);
    const progress: Progress[] = [];
    const first = await stageArtifact({ s3, runner, cacheDir, onProgress: (p) => progress.push(p) }, request);
    expect(first).toEqual({ path: stagedPath(cacheDir, request), sizeBytes: single.length, md5: md5(single), etag: etags.single, downloaded: true, evicted: [] });
    expect(await readFile(first.path)).toEqual(single);
    expect((await stat(first.path)).mode & 0o777).toBe(0o400);
    expect((await stat(cacheDir)).mode & 0o777).toBe(0o700);
    expect(progress.at(-1)).toEqual({ bytesDone: single.length, bytesTotal: single.length });
  });

  it('re-hashes a cached copy with progress, and makes an older, looser cache private', async () => {
    const request = requestFor('single', single);
    await chmod(cacheDir, 0o755);
    await chmod(stagedPath(cacheDir, request), 0o644);
    const progress: Progress[] = [];
    const second = await stageArtifact({ s3, runner, cacheDir, onProgress: (p) => progress.push(p) }, request);
    expect(second.downloaded).toBe(false);
    expect(progress.at(-1)).toEqual({ bytesDone: single.length, bytesTotal: single.length });
    expect((await stat(second.path)).mode & 0o777).toBe(0o400);
    expect((await stat(cacheDir)).mode & 0o777).toBe(0o700);
  });

  it.runIf(tellsLayouts)('computes a multipart ETag with unequal parts in the same read', async () => {
    const whole = Buffer.concat(parts);
    expect(multiEtag).toMatch(/-3$/);
    const result = await stageArtifact({ s3, runner, cacheDir }, { linkPath: `s3://${bucket}/${prefix}/multi`, linkEtag: multiEtag, md5: md5(whole) });
    expect(result).toMatchObject({ etag: multiEtag, md5: md5(whole), sizeBytes: whole.length, downloaded: true });
    await rm(result.path);
  });

  it(`stages a multipart artifact from a server that tells no part layout (Ceph RGW 16${tellsLayouts ? ', emulated' : ''}) by deriving it; an uploader's odd layout is PartLayoutUnknown, not a corrupt download`, async () => {
    const rgw = rgw16Client(server).client;
    const dir = path.join(root, 'rgw');
    const staged = await stageArtifact({ s3: rgw, runner, cacheDir: dir }, { linkPath: `s3://${bucket}/${prefix}/even`, linkEtag: evenEtag, md5: md5(even) });
    expect(staged).toMatchObject({ etag: evenEtag, md5: md5(even), downloaded: true });
    await rm(staged.path);
    // 6 MiB then 5 MiB parts: no fixed whole-MiB part size cuts the object that way.
    const odd = { linkPath: `s3://${bucket}/${prefix}/multi`, linkEtag: multiEtag, md5: md5(Buffer.concat(parts)) };
    await expect(stageArtifact({ s3: rgw, runner, cacheDir: dir }, odd)).rejects.toMatchObject({ type: 'PartLayoutUnknown', nonRetryable: true });
    expect(await readdir(dir)).toEqual([]);
  });

  it('an md5 mismatch is StagedFileCorrupt and leaves no file behind', async () => {
    const request = { linkPath: `s3://${bucket}/${prefix}/even`, linkEtag: evenEtag, md5: md5(Buffer.from('something else')) };
    const dir = path.join(root, 'bad');
    await expect(stageArtifact({ s3, runner, cacheDir: dir }, request)).rejects.toMatchObject({ type: 'StagedFileCorrupt', nonRetryable: false });
    expect(await readdir(dir)).toEqual([]);
  });

  it('a manifest etag that S3 does not have is a ManifestEtagFault (the repair path), before any download', async () => {
    const request = { ...requestFor('single', single), linkEtag: 'ffffffffffffffffffffffffffffffff' };
    await expect(stageArtifact({ s3, runner, cacheDir }, request)).rejects.toMatchObject({ type: 'ManifestEtagFault', details: [{ kind: 'etag-stale', actual: etags.single }] });
  });

  describe('with a size bound', () => {
    const dir = () => path.join(root, 'bounded');
    const bounded = (exported: string[]) => ({ s3, runner, cacheDir: dir(), cacheBound: { maxBytes: 250_000, exportedFiles: async () => exported } });
    const stage = (name: keyof typeof small, exported: string[] = []) => stageArtifact(bounded(exported), requestFor(name, small[name]));
    const cached = async () => (await readdir(dir())).sort();
    const fileOf = (name: keyof typeof small) => stagedPath(dir(), requestFor(name, small[name]));

    it('evicts the least recently used image (a cache hit counts as a use), a stale partial download first', async () => {
      await stage('a');
      await stage('b');
      expect((await stage('a')).downloaded).toBe(false); // a is now used more recently than b
      const stalePartial = `${fileOf('c')}.partial-deadbeef`;
      await writeFile(stalePartial, 'left by a killed attempt');
      await utimes(stalePartial, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));

      const c = await stage('c');
      expect(c.evicted).toEqual([
        { path: stalePartial, sizeBytes: 24 },
        { path: fileOf('b'), sizeBytes: 100_000 },
      ]);
      expect(await cached()).toEqual([fileOf('a'), fileOf('c')].map((f) => path.basename(f)).sort());
    });

    it('never evicts a file an export uses, even the least recently used; says so when nothing else can go', async () => {
      const b = await stage('b', [fileOf('a')]); // a is older than c, but exported
      expect(b.evicted).toEqual([{ path: fileOf('c'), sizeBytes: 100_000 }]);
      await expect(stage('c', [fileOf('a'), fileOf('b')])).rejects.toMatchObject({ type: 'StagingCacheFull', nonRetryable: true, message: expect.stringMatching(/ISCSI_CACHE_MAX_BYTES/) });
      expect(await cached()).toEqual([fileOf('a'), fileOf('b')].map((f) => path.basename(f)).sort());
    });

    it('drops an image\'s cached copy and its partial downloads, keeping what an export uses', async () => {
      const partial = `${fileOf('b')}.partial-0123abcd`;
      await writeFile(partial, 'x');
      const dryRun = await dropCachedFiles(runner, { dir: dir(), files: [fileOf('a'), fileOf('b')], inUse: [fileOf('a')], dryRun: true });
      expect(await cached()).toHaveLength(3);
      const dropped = await dropCachedFiles(runner, { dir: dir(), files: [fileOf('a'), fileOf('b')], inUse: [fileOf('a')], dryRun: false });
      expect(dropped).toEqual(dryRun);
      expect(dropped.kept).toEqual([fileOf('a')]);
      expect(dropped.dropped.map((f) => f.path).sort()).toEqual([fileOf('b'), partial].sort());
      expect(await cached()).toEqual([path.basename(fileOf('a'))]);
      expect(await dropCachedFiles(runner, { dir: path.join(root, 'never-made'), files: [fileOf('a')], inUse: [], dryRun: false })).toEqual({ dropped: [], kept: [] });
    });
  });
});

describe('ISCSI_CACHE_MAX_BYTES', () => {
  it('takes bytes or binary units, and refuses anything else', () => {
    const bound = (value: string | undefined) => readSettings(['iscsiServer'], { ISCSI_CACHE_MAX_BYTES: value }).iscsiServer.ISCSI_CACHE_MAX_BYTES;
    expect(bound(undefined)).toBeUndefined();
    expect(bound('')).toBeUndefined();
    expect(bound('500000000')).toBe(500_000_000);
    expect(bound('200G')).toBe(200 * 2 ** 30);
    expect(bound('3GiB')).toBe(3 * 2 ** 30);
    expect(() => bound('1.5T')).toThrow(/ISCSI_CACHE_MAX_BYTES: must be a size/);
  });
});

describe('secrets stay secret', () => {
  it('file secret resolver: reads 0600 files, refuses loose modes, bad refs and missing files without echoing values', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'secrets-'));
    const { mkdir } = await import('node:fs/promises');
    await mkdir(path.join(dir, 'chap'));
    await writeFile(path.join(dir, 'chap', 'ok'), 's3cr3t-value\n', { mode: 0o600 });
    await writeFile(path.join(dir, 'chap', 'loose'), 'loose-value', { mode: 0o644 });
    const secrets = fileSecretResolver(dir);
    expect(await secrets.resolve('chap/ok')).toBe('s3cr3t-value');
    await expect(secrets.resolve('chap/loose')).rejects.toThrow(/readable by group or others/);
    await expect(secrets.resolve('chap/loose')).rejects.not.toThrow(/loose-value/);
    await expect(secrets.resolve('../etc/passwd')).rejects.toThrow(/not a relative name/);
    await expect(secrets.resolve('chap/missing')).rejects.toThrow(/not found/);
    await rm(dir, { recursive: true });
  });

  it('command failures are reported with secrets scrubbed from argv and stderr', async () => {
    expect(redact('password=abc123 and abc123', ['abc123'])).toBe('password=*** and ***');
    const failure = localRunner().run(['sh', '-c', 'echo "bad password abc123" >&2; exit 3', 'abc123'], { secrets: ['abc123'] });
    await expect(failure).rejects.toThrow(/exit 3/);
    await expect(failure).rejects.not.toThrow(/abc123/);
  });
});
