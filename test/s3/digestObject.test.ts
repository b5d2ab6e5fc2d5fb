// Digests of objects already in S3 (seed 002), for layouts the uploader chose (parts of unequal
// sizes), with and without GetObjectAttributes, and for content that does not match S3's ETag; on both
// of the dev stack's S3 servers (on Ceph RGW 16 the part layouts are derived for real).
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createS3ImportActivities } from '../../activities/s3/activities';
import { createS3Client } from '../../activities/s3/client';
import { uniqueId } from '../helpers/temporal';
import { MiB, failureOf } from './support';
import { rgw16Client } from '../helpers/rgw16Client';
import { s3ClientOf, s3Servers } from '../helpers/s3Servers';
import { wholeMiBCandidates } from '../../activities/s3/digestObject';
import { parseS3Url } from '../../lib/manifest';

const bucket = 'boot-images';

describe.each(s3Servers)('on $backend', (server) => {
  const s3 = s3ClientOf(server);
  const activities = createS3ImportActivities(s3);
  // Layouts no whole-MiB part size explains need a server that tells them; RGW 16 does not (PartLayoutUnknown, below).
  const tellsLayouts = server.backend !== 'rgw';
  /** Uploads parts of the given sizes as another tool would; returns the content and S3's ETag. */
  async function uploadInParts(key: string, sizes: number[]): Promise<{ data: Buffer; etag: string }> {
    const parts = sizes.map((size, i) => Buffer.alloc(size, i + 1));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const uploaded = [];
    for (const [i, Body] of parts.entries()) {
      const { ETag } = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body }));
      uploaded.push({ PartNumber: i + 1, ETag });
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: uploaded } }));
    // From HEAD: RGW's answer to CompleteMultipartUpload can carry an empty ETag.
    const { ETag } = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { data: Buffer.concat(parts), etag: ETag!.replaceAll('"', '') };
  }

  const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

  describe('digestObject', () => {
    it.runIf(tellsLayouts)("matches S3's ETag for parts of unequal sizes, and gives the whole object's md5", async () => {
      const key = uniqueId('s3-test/digest-multi');
      const { data, etag } = await uploadInParts(key, [5 * MiB, 7 * MiB, 5 * MiB + 3, 100]);
      const heartbeats: { bytesDone: number; bytesTotal: number }[] = [];
      const env = new MockActivityEnvironment();
      env.on('heartbeat', (progress) => heartbeats.push(progress));
      const result = await env.run(activities.digestObject, { url: `s3://${bucket}/${key}` });
      expect(result).toEqual({ etag, md5: md5(data), size: data.length, parts: 4 });
      expect(heartbeats.at(-1)).toEqual({ bytesDone: data.length, bytesTotal: data.length });
    });

    it.runIf(tellsLayouts)('reads the part layout with HEAD ?partNumber= where GetObjectAttributes is not implemented', async () => {
      const withoutAttributes = createS3Client(server.settings);
      withoutAttributes.middlewareStack.add(
        (next, context) => (args) => {
          if (context.commandName === 'GetObjectAttributesCommand') throw Object.assign(new Error('NotImplemented'), { $metadata: { httpStatusCode: 501 } });
          return next(args);
        },
        { step: 'initialize' },
      );
      const key = uniqueId('s3-test/digest-heads');
      const { data, etag } = await uploadInParts(key, [6 * MiB, 5 * MiB, 1]);
      const result = await new MockActivityEnvironment().run(createS3ImportActivities(withoutAttributes).digestObject, { url: `s3://${bucket}/${key}` });
      expect(result).toEqual({ etag, md5: md5(data), size: data.length, parts: 3 });
    });

    describe(server.backend === 'rgw' ? 'where the server tells no part layout' : 'on a server that tells no part layout (Ceph RGW 16, emulated)', () => {
      it('derives 8 MiB parts (the AWS CLI) and 5 MiB parts (rclone) from the object size and the ETag, in one read, and remembers what the server cannot do', async () => {
        const { client, calls } = rgw16Client(server);
        const rgw = createS3ImportActivities(client);
        const aws = uniqueId('s3-test/rgw-8mib');
        const uploaded = await uploadInParts(aws, [8 * MiB, 8 * MiB, 4 * MiB]);
        expect(await new MockActivityEnvironment().run(rgw.digestObject, { url: `s3://${bucket}/${aws}` })).toEqual({ etag: uploaded.etag, md5: md5(uploaded.data), size: 20 * MiB, parts: 3 });
        expect(calls).toEqual({ attributes: 1, partHeads: 1 });
        const rclone = uniqueId('s3-test/rgw-5mib');
        const byRclone = await uploadInParts(rclone, [5 * MiB, 5 * MiB, 5 * MiB, 3 * MiB + 7]);
        expect(await new MockActivityEnvironment().run(rgw.digestObject, { url: `s3://${bucket}/${rclone}` })).toEqual({ etag: byRclone.etag, md5: md5(byRclone.data), size: byRclone.data.length, parts: 4 });
        expect(calls).toEqual({ attributes: 1, partHeads: 1 });
      });

      it('fails naming the object when no whole-MiB part size reproduces its ETag', async () => {
        const key = uniqueId('s3-test/rgw-odd');
        await uploadInParts(key, [7 * MiB + MiB / 2, 7 * MiB + MiB / 2, 100]);
        const error = await failureOf(new MockActivityEnvironment().run(createS3ImportActivities(rgw16Client(server).client).digestObject, { url: `s3://${bucket}/${key}` }));
        expect(error).toMatchObject({ type: 'PartLayoutUnknown', nonRetryable: true });
        expect(error.message).toMatch(new RegExp(`^s3://${bucket}/${key}: the server does not tell the part sizes behind its ETag [0-9a-f]{32}-3`));
      });
    });

    it('digests an object written by a single PUT', async () => {
      const key = uniqueId('s3-test/digest-single');
      const data = Buffer.from('a kernel, say');
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
      const result = await new MockActivityEnvironment().run(activities.digestObject, { url: `s3://${bucket}/${key}` });
      expect(result).toEqual({ etag: md5(data), md5: md5(data), size: data.length, parts: 1 });
    });

    it('reports ArtifactCorrupt when the bytes read do not hash to S3’s ETag', async () => {
      const flipping = createS3Client(server.settings);
      flipping.middlewareStack.add(
        (next, context) => async (args) => {
          const result = await next(args);
          if (context.commandName !== 'GetObjectCommand') return result;
          const body = (result.output as { Body: Readable }).Body;
          (result.output as { Body: Readable }).Body = Readable.from(
            (async function* () {
              let first = true;
              for await (const chunk of body) {
                const copy = Buffer.from(chunk as Buffer);
                if (first) copy[0] ^= 0xff;
                first = false;
                yield copy;
              }
            })(),
          );
          return result;
        },
        { step: 'initialize' },
      );
      const key = uniqueId('s3-test/digest-corrupt');
      const { etag } = await uploadInParts(key, [5 * MiB, 1000]);
      const error = await failureOf(new MockActivityEnvironment().run(createS3ImportActivities(flipping).digestObject, { url: `s3://${bucket}/${key}` }));
      // Where the layout is derived, damaged bytes match no candidate: indistinguishable from an unknown layout.
      expect(error).toMatchObject({ type: tellsLayouts ? 'ArtifactCorrupt' : 'PartLayoutUnknown', nonRetryable: true });
      expect(error.message).toContain(etag);
    });

    it('refuses a malformed URL as InvalidInput', async () => {
      const error = await failureOf(new MockActivityEnvironment().run(activities.digestObject, { url: 'boot-images/no-scheme' }));
      expect(error).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    });
  });

  describe('JSON objects (reports)', () => {
    // These activities neither heartbeat nor watch cancellation: called directly.
    it("writes JSON and returns S3's ETag for it", async () => {
      const url = `s3://${bucket}/${uniqueId('s3-test/json')}/manifest.json`;
      const value = { version: '1.0', artifacts: [] };
      const { etag } = await activities.putJsonObject({ url, value });
      expect(await activities.headObject({ url })).toEqual({ etag, size: expect.any(Number) });
      expect(JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: parseS3Url(url).key }))).Body!.transformToString())).toEqual(value);
    });

    it('answers null for a missing object', async () => {
      expect(await activities.headObject({ url: `s3://${bucket}/${uniqueId('s3-test/json')}.absent` })).toBeNull();
    });
  });
});

describe('part size candidates', () => {
  it('lists the whole-MiB part sizes that cut an object into its number of parts', () => {
    expect(wholeMiBCandidates(20 * MiB, 3)).toEqual([7, 8, 9].map((n) => n * MiB));
    expect(wholeMiBCandidates(1024 * MiB, 128)).toEqual([8 * MiB]);
    expect(wholeMiBCandidates(1024 * MiB + 1, 129)).toEqual([8 * MiB]);
    expect(wholeMiBCandidates(3 * MiB, 2)).toEqual([]); // parts under 5 MiB are not S3's
  });
});
