// A corpus of malformed manifests, stored in the dev stack's S3 as a site's tools might have written
// them: each is refused by every reader (the check before encryption and export, the repair, the boot
// parameters' image check) as ManifestInvalid naming what is wrong, none crashes a reader, nothing is
// rewritten; some go through the stack's updateBootParameters, which must fail before touching BSS.
// Valid controls, with fields of a site's own and non-ASCII text, still pass.
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { randomInt, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBssActivities } from '../activities/bss/activities';
import { BssClient } from '../activities/bss/client';
import { SnapshotStore } from '../activities/bss/snapshot';
import { CsmClient } from '../activities/csm/client';
import { createManifestActivities } from '../activities/manifest/activities';
import { devStack } from '../dev/config';
import { MediaType, maxArtifacts, maxManifestBytes, parseS3Url } from '../lib/manifest';
import { updateBootParameters } from '../workflows/updateBootParameters';
import { objectStore, s3 } from './helpers/images';
import { connectClient, uniqueId } from './helpers/temporal';

const bucket = 'boot-images';
const prefix = `manifest-corpus/${randomUUID()}`;
const artifact = (kind: 'rootfs' | 'kernel' | 'initrd', link: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  link: { path: `s3://${bucket}/${prefix}/objects/${kind}`, etag: 'e', type: 's3', ...link },
  md5: 'd41d8cd98f00b204e9800998ecf8427e',
  type: MediaType[kind],
  ...extra,
});
const valid = (changes: Record<string, unknown> = {}) => ({ version: '1.0', created: '2026-12-02T10:00:00Z', artifacts: [artifact('rootfs'), artifact('kernel'), artifact('initrd')], ...changes });
const json = (value: unknown) => JSON.stringify(value);
const withRootfs = (link: Record<string, unknown>, extra: Record<string, unknown> = {}) => json(valid({ artifacts: [artifact('rootfs', link, extra), artifact('kernel'), artifact('initrd')] }));
const deep = (levels: number): unknown => (levels === 0 ? 'x' : { a: deep(levels - 1) });
const utf16le = (text: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
const utf16be = (text: string) => Buffer.from([0xfe, 0xff, ...Buffer.from(text, 'utf16le').swap16()]);

/** A stored manifest body and a part of the reason every reader must give. */
const corpus: [string, string | Buffer, RegExp][] = [
  ['an empty object', '', /the object is empty/],
  ['only whitespace', '  \n\t\n', /the object is empty/],
  ['UTF-16LE with its byte order mark', utf16le(json(valid())), /the object is UTF-16: write it as UTF-8/],
  ['UTF-16BE with its byte order mark', utf16be(json(valid())), /the object is UTF-16: write it as UTF-8/],
  ['UTF-16LE without a byte order mark', Buffer.from(json(valid()), 'utf16le'), /holds NUL characters \(UTF-16\?\)/],
  ['UTF-8 behind a byte order mark', `\uFEFF${json(valid())}`, /starts with a byte order mark/],
  ['Latin-1 text', Buffer.from(json(valid({ comment: 'créé' })), 'latin1'), /is not valid UTF-8/],
  ['a NUL byte in a string', json(valid({ comment: 'a\u0000b' })).replace('\\u0000', '\u0000'), /NUL characters/],
  ['truncated JSON', json(valid()).slice(0, 60), /is not JSON/],
  ['a trailing comma', json(valid()).replace(/}$/, ',}'), /is not JSON/],
  ['comments', `// written by hand\n${json(valid())}`, /is not JSON/],
  ['YAML instead of JSON', 'version: "1.0"\nartifacts: []\n', /is not JSON/],
  ['single quotes', json(valid()).replaceAll('"', "'"), /is not JSON/],
  ['NaN', json(valid()).replace('"1.0"', 'NaN'), /is not JSON/],
  ['a JSON string', json('manifest'), /manifest: /],
  ['a JSON array', json([valid()]), /manifest: /],
  ['null', 'null', /manifest: /],
  ['a number', '1.0', /manifest: /],
  ['larger than any manifest', json(valid({ padding: 'x'.repeat(maxManifestBytes) })), new RegExp(`a manifest is at most ${maxManifestBytes}`)],
  ['nested 40 levels in a field of its own', json(valid({ site: deep(40) })), /nested more than 32 levels deep/],
  ['nested 100,000 levels', `${'['.repeat(100_000)}${']'.repeat(100_000)}`, /nested (more than 32 levels deep|too deeply to read)/],
  ['no version', json({ artifacts: valid().artifacts }), /version: /],
  ['version as a number', json(valid({ version: 1.0 })), /version: /],
  ['version 2.0', json(valid({ version: '2.0' })), /version is "2.0", expected "1.0"/],
  ['no artifacts', json({ version: '1.0' }), /artifacts: /],
  ['artifacts as an object', json(valid({ artifacts: { rootfs: artifact('rootfs') } })), /artifacts: /],
  ['no artifact at all', json(valid({ artifacts: [] })), /0 rootfs artifacts/],
  ['two rootfs artifacts', json(valid({ artifacts: [artifact('rootfs'), { ...artifact('rootfs'), type: `${MediaType.rootfs}.v2` }, artifact('kernel')] })), /2 rootfs artifacts/],
  ['only a kernel and an initrd', json(valid({ artifacts: [artifact('kernel'), artifact('initrd')] })), /0 rootfs artifacts/],
  ['a null artifact', json(valid({ artifacts: [artifact('rootfs'), null] })), /artifacts\.1: /],
  ['an artifact without a link', json(valid({ artifacts: [{ type: MediaType.rootfs, md5: 'd41d8cd98f00b204e9800998ecf8427e' }] })), /artifacts\.0\.link: /],
  ['an artifact without a type', json(valid({ artifacts: [{ link: artifact('rootfs').link }] })), /artifacts\.0\.type: /],
  ['an empty type', json(valid({ artifacts: [{ ...artifact('rootfs'), type: '' }] })), /artifacts\.0\.type: /],
  ['an empty link path', withRootfs({ path: '' }), /artifacts\.0\.link\.path: /],
  ['a link path as a number', withRootfs({ path: 42 }), /artifacts\.0\.link\.path: /],
  ['a link without its type', withRootfs({ type: undefined }), /artifacts\.0\.link\.type: /],
  ['an http link', withRootfs({ type: 'http', path: 'http://example.com/rootfs' }), /link type "http", expected "s3"/],
  ['a path without s3://', withRootfs({ path: `${bucket}/${prefix}/rootfs` }), /not an s3:\/\/bucket\/key URL/],
  ['an upper-case bucket', withRootfs({ path: `s3://Boot-Images/${prefix}/rootfs` }), /not an s3:\/\/bucket\/key URL/],
  ['a bucket name of one letter', withRootfs({ path: 's3://b/rootfs' }), /not an s3:\/\/bucket\/key URL/],
  ['a ".." segment in the key', withRootfs({ path: `s3://${bucket}/${prefix}/../../etc/rootfs` }), /a "\." or "\.\." segment/],
  ['a "." segment in the key', withRootfs({ path: `s3://${bucket}/./${prefix}/rootfs` }), /a "\." or "\.\." segment/],
  ['a control character in the key', withRootfs({ path: `s3://${bucket}/${prefix}/root\u0007fs` }), /the key holds control characters/],
  ['a line break in the key', withRootfs({ path: `s3://${bucket}/${prefix}/root\nfs` }), /control characters|not an s3:\/\/bucket\/key URL/],
  ['a key over 1,024 bytes', withRootfs({ path: `s3://${bucket}/${'k'.repeat(1100)}` }), /S3 keys are at most 1,024/],
  ['a key of 400 characters in 1,200 bytes', withRootfs({ path: `s3://${bucket}/${'€'.repeat(400)}` }), /the key is 1200 bytes; S3 keys are at most 1,024/],
  ['an md5 that is not hex', withRootfs({}, { md5: 'zz41d8cd98f00b204e9800998ecf8427' }), /md5 .* is not 32 lowercase hex digits/],
  ['an md5 too short', withRootfs({}, { md5: 'd41d8cd98f00b204' }), /md5 .* is not 32 lowercase hex digits/],
  ['an md5 in upper case', withRootfs({}, { md5: 'D41D8CD98F00B204E9800998ECF8427E' }), /md5 .* is not 32 lowercase hex digits/],
  ['an md5 as a number', withRootfs({}, { md5: 12345 }), /artifacts\.0\.md5: /],
  ['an etag as a number', withRootfs({ etag: 7 }), /artifacts\.0\.link\.etag: /],
  ['an etag as an object', withRootfs({ etag: { value: 'e' } }), /artifacts\.0\.link\.etag: /],
  ['more artifacts than any image has', json(valid({ artifacts: [artifact('rootfs'), ...Array.from({ length: maxArtifacts }, (_, i) => artifact('kernel', { path: `s3://${bucket}/${prefix}/k${i}` }))] })), new RegExp(`${maxArtifacts + 1} artifacts; a manifest has at most ${maxArtifacts}`)],
];

/** Stored as is, byte for byte; returns its URL and S3's ETag for it. */
async function store(name: string, body: string | Buffer): Promise<{ url: string; etag: string }> {
  const key = `${prefix}/${name.replace(/[^a-z0-9]+/gi, '-')}/manifest.json`;
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return { url: `s3://${bucket}/${key}`, etag: put.ETag! };
}

async function refusal(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  return error as ApplicationFailure;
}

const manifests = createManifestActivities(objectStore);
const bss = createBssActivities({ bss: new BssClient(new CsmClient(devStack.csm)), snapshots: new SnapshotStore(objectStore, 's3://ims/bss-changes-test'), store: objectStore });
const etagOf = async (url: string) => (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: parseS3Url(url).key }))).ETag;

describe('malformed manifests in S3', () => {
  it(`has ${corpus.length} cases, each of its own kind`, () => {
    expect(corpus.length).toBeGreaterThanOrEqual(50);
    expect(new Set(corpus.map(([name]) => name)).size).toBe(corpus.length);
  });

  it.each(corpus)('%s: every reader refuses it as ManifestInvalid with the reason, nothing rewritten', async (name, body, reason) => {
    const { url, etag } = await store(name, body);
    const checked = await refusal(manifests.checkManifest({ manifestPath: url }));
    expect(checked.type).toBe('ManifestInvalid');
    expect(checked.nonRetryable).toBe(true);
    expect(checked.message).toMatch(reason);
    expect(checked.message.startsWith(`${url}: `)).toBe(true);

    const repaired = await manifests.repairManifest({ manifestPath: url });
    expect(repaired.rewritten).toBe(false);
    expect(repaired.invalid.join('; ')).toMatch(reason);

    const boot = await refusal(bss.resolveBootImage({ manifestPath: url }));
    expect(boot).toMatchObject({ type: 'ManifestInvalid', nonRetryable: true });
    expect(boot.message).toMatch(reason);

    expect(await etagOf(url)).toBe(etag);
  });

  it("still reads valid manifests: fields of a site's own, non-ASCII text, no created date", async () => {
    const files: Record<string, string> = {};
    for (const kind of ['rootfs', 'kernel', 'initrd'] as const) {
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/objects/${kind}`, Body: `${kind}\n` }));
      files[kind] = put.ETag!.replaceAll('"', '');
    }
    const real = (kind: 'rootfs' | 'kernel' | 'initrd') => artifact(kind, { etag: files[kind] }, { md5: files[kind] });
    for (const [name, body] of [
      ['a site field', json({ ...valid({ artifacts: [real('rootfs'), real('kernel'), real('initrd')] }), site: { owner: 'Zoé', ticket: 'CHG-1' } })],
      ['no created date', json({ version: '1.0', artifacts: [real('rootfs'), real('kernel'), real('initrd')] })],
      ['pretty-printed', JSON.stringify(valid({ artifacts: [real('rootfs'), real('kernel'), real('initrd')] }), null, 2)],
    ] as const) {
      const { url } = await store(`valid ${name}`, body);
      const checked = await manifests.checkManifest({ manifestPath: url });
      expect(checked.manifest.artifacts).toHaveLength(3);
      expect((await bss.resolveBootImage({ manifestPath: url })).rootfs.path).toBe(real('rootfs').link.path);
    }
  });
});

describe('malformed manifests given to a rollout on the dev stack', () => {
  const picked = ['UTF-16LE with its byte order mark', 'truncated JSON', 'larger than any manifest', 'a ".." segment in the key', 'two rootfs artifacts', 'nested 100,000 levels'];
  let client: Client;
  const node = `x${randomInt(1000, 9999)}c7s7b0n0`;
  const csm = new CsmClient(devStack.csm);
  const entry = { hosts: [node], kernel: 's3://boot-images/old/kernel', initrd: 's3://boot-images/old/initrd', params: 'console=ttyS0 root=sbps-s3:s3://boot-images/old/rootfs:abc:sbps:v1:iqn.2023-06.csm.iscsi:_sbps-hsn._tcp.example.com:300' };
  beforeAll(async () => {
    client = await connectClient();
    await csm.request('POST', '/apis/bss/boot/v1/bootparameters', entry);
  });
  afterAll(async () => {
    await csm.request('DELETE', '/apis/bss/boot/v1/bootparameters', { hosts: [node] }).catch(() => undefined);
    await client?.connection.close();
  });

  it.each(picked)('%s: the rollout fails with the reason before claiming, snapshotting or changing any node', async (name) => {
    const [, body, reason] = corpus.find(([caseName]) => caseName === name)!;
    const { url } = await store(`rollout ${name}`, body);
    const workflowId = uniqueId('manifest-corpus-rollout');
    const failure = await client.workflow.execute(updateBootParameters, { taskQueue: devStack.temporal.taskQueue, workflowId, args: [{ nodes: [node], manifestPath: url }] }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('ManifestInvalid');
    expect(cause.message).toMatch(reason);
    const [now] = await csm.request<(typeof entry)[]>('GET', `/apis/bss/boot/v1/bootparameters?name=${node}`);
    expect(now).toMatchObject(entry);
    expect(await objectStore.head(`s3://ims/bss-changes/${workflowId}/snapshot.json`)).toBeNull();
  });
});
