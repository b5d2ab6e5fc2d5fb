// importImage and encryptImage on Ceph RGW 16 (CSM's S3), which tells no part layout: a worker process
// of the test's own and a CSM simulator, both over the dev stack's RGW. The rootfs is put there by the
// AWS CLI (8 MiB parts), as a site's artifacts already in S3 are (seed 002), so reading it back, for
// the import and again for the encryption, needs the derived part layout.
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import { execa } from 'execa';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ObjectStore } from '../activities/manifest/objectStore';
import { devStack, projectRoot } from '../dev/config';
import { makeSampleImage, type SampleImage } from '../dev/sampleImage';
import { MediaType, parseS3Url, type Manifest } from '../lib/manifest';
import { startSimulator, type Simulator } from '../sim/server';
import { encryptImage } from '../workflows/encryptImage';
import { importImage } from '../workflows/importImage';
import { s3ClientOf, s3Servers } from './helpers/s3Servers';
import { connectClient, uniqueId } from './helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from './helpers/workerProcess';

const rgw = s3Servers.find((server) => server.backend === 'rgw')!;
const s3 = s3ClientOf(rgw);
const objectStore = new ObjectStore(s3);
const csmClient = { id: 'rgw-test', secret: randomUUID() };
const md5 = (file: string) => createHash('md5').update(fs.readFileSync(file)).digest('hex');
const etagOf = async (url: string) => {
  const { bucket, key } = parseS3Url(url);
  return (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag!.replaceAll('"', '');
};

let client: Client;
let sample: SampleImage;
let dir: string;
let sim: Simulator;
let worker: WorkerProcess;
const taskQueue = uniqueId('rgw');

beforeAll(async () => {
  client = await connectClient();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rgw-'));
  sample = await makeSampleImage(dir, { payloadMiB: 12, label: uniqueId('rgw') });
  sim = await startSimulator({ port: 0, dataDir: path.join(dir, 'sim'), s3: rgw.settings, clients: { [csmClient.id]: csmClient.secret } });
  worker = await startWorkerProcess(taskQueue, {
    S3_ENDPOINT: rgw.settings.endpoint,
    CSM_API_URL: sim.url,
    CSM_CLIENT_ID: csmClient.id,
    CSM_CLIENT_SECRET: csmClient.secret,
    // An encryption host of its own: the stack's worker serves the machine's host queue, over SeaweedFS.
    WORKER_HOST_ID: taskQueue,
  });
}, 120_000);

afterAll(async () => {
  await worker?.kill();
  await sim?.close();
  await client?.connection.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('imports artifacts the AWS CLI put in RGW (seed 002), a multipart rootfs among them, then encrypts that rootfs', async () => {
  const prefix = uniqueId('rgw-artifacts');
  const rootfsUrl = `s3://boot-images/${prefix}/rootfs`;
  await execa(path.join(projectRoot, '.dev/venv/bin/aws'), ['--endpoint-url', rgw.settings.endpoint, 's3', 'cp', sample.rootfs, rootfsUrl, '--only-show-errors'], {
    env: {
      AWS_ACCESS_KEY_ID: devStack.s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: devStack.s3.secretAccessKey,
      AWS_DEFAULT_REGION: devStack.s3.region,
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    },
  });
  expect(await etagOf(rootfsUrl)).toMatch(/-2$/); // 8 MiB parts of a 12+ MiB file
  for (const kind of ['kernel', 'initrd'] as const) {
    await s3.send(new PutObjectCommand({ Bucket: 'boot-images', Key: `${prefix}/${kind}`, Body: fs.readFileSync(sample[kind]) }));
  }

  const imported = await client.workflow.execute(importImage, {
    taskQueue,
    workflowId: uniqueId('rgw-import'),
    args: [{ name: 'rgw-image', rootfs: { s3: rootfsUrl }, kernel: { s3: `s3://boot-images/${prefix}/kernel` }, initrd: { s3: `s3://boot-images/${prefix}/initrd` } }],
  });
  const rootfs = imported.artifacts[0];
  expect(rootfs.link).toEqual({ path: rootfsUrl, etag: await etagOf(rootfsUrl), type: 's3' });
  expect(rootfs.md5).toBe(md5(sample.rootfs));

  const encrypted = await client.workflow.execute(encryptImage, { taskQueue, workflowId: uniqueId('rgw-encrypt'), args: [{ imageId: imported.imageId }] });
  expect(encrypted.encrypted).toBe(true);
  const manifest = JSON.parse(await objectStore.getText(imported.manifest.path)) as Manifest;
  const luks = manifest.artifacts.find((a) => a.type === MediaType.rootfsLuks)!;
  expect(luks.link.etag).toBe(await etagOf(luks.link.path));
  const container = path.join(dir, 'rootfs.luks');
  const { bucket, key } = parseS3Url(luks.link.path);
  fs.writeFileSync(container, await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
  expect(luks.md5).toBe(md5(container));
  expect((await execa('cryptsetup', ['luksDump', container])).stdout).toContain(encrypted.artifact.luks.uuid);
}, 240_000);
