// customizeImage through the dev stack: the simulator's CFS really applies the layers (from local git
// repositories) to the image's squashfs and registers the result in its IMS.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CfsClient } from '../activities/cfs/client';
import { CsmClient, CsmHttpError } from '../activities/csm/client';
import { devStack } from '../dev/config';
import { makeSampleImage, type SampleImage } from '../dev/sampleImage';
import { customizationSessionName } from '../lib/cfsNames';
import { Manifest, parseS3Url, rootfsArtifact } from '../lib/manifest';
import { customizeImage } from '../workflows/customizeImage';
import { makeLayerRepo } from '../dev/gitLayer';
import { attemptRowsOf } from './helpers/history';
import { ims, objectStore, s3, seedImage } from './helpers/images';
import { noSimFaults, setSimFaults } from './helpers/simFaults';
import { connectClient, uniqueId } from './helpers/temporal';

const cfs = new CfsClient(new CsmClient(devStack.csm));

async function unpackRootfs(manifestPath: string, dir: string): Promise<string> {
  const manifest = Manifest.parse(JSON.parse(await objectStore.getText(manifestPath)));
  const { bucket, key } = parseS3Url(rootfsArtifact(manifest)!.link.path);
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  fs.writeFileSync(path.join(dir, 'rootfs'), Buffer.from(await object.Body!.transformToByteArray()));
  await execa('unsquashfs', ['-quiet', '-no-progress', '-no-xattrs', '-d', path.join(dir, 'root'), path.join(dir, 'rootfs')]);
  return path.join(dir, 'root');
}

describe('customizeImage (dev stack CFS simulator)', () => {
  let client: Client;
  let sample: SampleImage;
  let layers: { name: string; cloneUrl: string; commit: string; playbook: string }[];
  let dir: string;

  beforeAll(async () => {
    client = await connectClient();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'customize-'));
    sample = await makeSampleImage(path.join(dir, 'image'), { payloadMiB: 1, label: uniqueId('customize') });
    const motd = await makeLayerRepo('motd', [{ name: 'motd', copy: { dest: '/etc/motd', content: 'customized by CFS\n' } }]);
    const site = await makeLayerRepo('site', [{ name: 'conf', lineinfile: { path: '/etc/os-release', line: 'SITE=ocean' } }]);
    layers = [
      { name: 'motd', ...motd },
      { name: 'site', ...site },
    ];
  });
  afterEach(() => setSimFaults(noSimFaults));
  afterAll(async () => {
    await client.connection.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = (input: Record<string, unknown>, workflowId = uniqueId('customize')) =>
    client.workflow.execute(customizeImage, { taskQueue: devStack.temporal.taskQueue, workflowId, args: [{ pollIntervalSeconds: 1, ...input }] });
  const failureOf = (promise: Promise<unknown>) => promise.then(() => undefined, (error: WorkflowFailedError) => error.cause as Error & { type?: string; nonRetryable?: boolean });

  it('applies two layers, returns the resultant image with a checked manifest, and adopts its session on a re-run', async () => {
    const source = await seedImage(sample);
    const workflowId = uniqueId('customize');
    const input = { imageId: source.imageId, configuration: uniqueId('two-layers'), layers, resultName: 'compute-custom' };
    const result = await run(input, workflowId);

    expect(result.adoptedSession).toBe(false);
    const image = await ims.getImage(result.resultImageId);
    expect(image.name).toBe('compute-custom');
    expect(result.manifest.path).toBe(image.link!.path);
    const root = await unpackRootfs(result.manifest.path, fs.mkdtempSync(path.join(dir, 'result-')));
    expect(fs.readFileSync(path.join(root, 'etc/motd'), 'utf8')).toBe('customized by CFS\n');
    expect(fs.readFileSync(path.join(root, 'etc/os-release'), 'utf8')).toContain('SITE=ocean');

    const again = await run(input, workflowId);
    expect(again).toMatchObject({ adoptedSession: true, sessionName: result.sessionName, resultImageId: result.resultImageId });
  });

  it('fails, non-retryable, with the session details when a layer fails', async () => {
    const source = await seedImage(sample);
    const broken = await makeLayerRepo('broken', [{ name: 'boom', fail: { msg: 'layer is broken' } }]);
    const failure = await failureOf(run({ imageId: source.imageId, configuration: uniqueId('failing'), layers: [layers[0], { name: 'broken', ...broken }] }));
    expect(failure).toMatchObject({ type: 'CustomizationFailed', nonRetryable: true, message: expect.stringMatching(/succeeded="false"/) });
  });

  it('deletes a session still running at the deadline and fails with CustomizationTimedOut', async () => {
    const source = await seedImage(sample);
    await setSimFaults({ ...noSimFaults, hangSessions: true });
    const workflowId = uniqueId('customize-hang');
    const failure = await failureOf(run({ imageId: source.imageId, configuration: uniqueId('hang'), layers: layers.slice(0, 1), deadlineMinutes: 0.05 }, workflowId));
    expect(failure).toMatchObject({ type: 'CustomizationTimedOut', message: expect.stringMatching(/still running at the deadline/) });
    await expect(cfs.getSession(customizationSessionName(workflowId, source.imageId))).rejects.toMatchObject({ status: 404 });
  });

  it('survives 503s while polling the session, each counted, and completes', async () => {
    const source = await seedImage(sample);
    await setSimFaults({ ...noSimFaults, failNext: 3, errorStatus: 503, errorPathPrefix: '/apis/cfs/v3/sessions/' });
    const workflowId = uniqueId('customize-503');
    const result = await run({ imageId: source.imageId, configuration: uniqueId('flaky'), layers: layers.slice(0, 1) }, workflowId);
    expect(result.resultImageId).not.toBe(source.imageId);
    const faults = (await (await fetch(`${devStack.csm.url}/_sim/faults`)).json()) as { failNext: number };
    expect(faults.failNext).toBe(0);
    const waits = (await attemptRowsOf(client, workflowId)).filter((row) => row.type === 'waitForSession');
    expect(waits.map((row) => row.outcome)).toEqual(['completed']);
  });

  it('repairs the etag-less rootfs link of a result manifest (seed 000) and records the failed check, the repair and the check that passed', async () => {
    const source = await seedImage(sample);
    await setSimFaults({ ...noSimFaults, etaglessResultsNext: 1 });
    const workflowId = uniqueId('customize-etagless');
    const result = await run({ imageId: source.imageId, configuration: uniqueId('etagless'), layers: layers.slice(0, 1) }, workflowId);
    const rootfs = rootfsArtifact(Manifest.parse(JSON.parse(await objectStore.getText(result.manifest.path))))!;
    expect(rootfs.link.etag).toBe((await objectStore.head(rootfs.link.path))!.etag);
    const rows = (await attemptRowsOf(client, workflowId)).filter((row) => row.label.includes('check resultant manifest'));
    expect(rows.map((row) => [row.label.replace(/ \(attempt \d+\)$/, ''), row.outcome, row.errorType ?? null])).toEqual([
      ['check resultant manifest', 'failed', 'ManifestEtagFault'],
      ['repair ManifestEtagFault for check resultant manifest', 'completed', null],
      ['check resultant manifest', 'completed', null],
    ]);
  });

  it('refuses a configuration CFS does not have, and an image IMS does not have, before creating a session', async () => {
    const source = await seedImage(sample);
    const unknownConfiguration = await failureOf(run({ imageId: source.imageId, configuration: uniqueId('no-such-configuration') }));
    expect(unknownConfiguration).toMatchObject({ type: 'InvalidInput', message: expect.stringMatching(/CFS has no configuration/) });

    const workflowId = uniqueId('customize-missing');
    const missingImage = await failureOf(run({ imageId: '00000000-0000-0000-0000-0000000000aa', configuration: uniqueId('x'), layers }, workflowId));
    expect(missingImage).toMatchObject({ type: 'InvalidInput', message: expect.stringMatching(/00000000-0000-0000-0000-0000000000aa/) });
    const sessionName = customizationSessionName(workflowId, '00000000-0000-0000-0000-0000000000aa');
    await expect(cfs.getSession(sessionName)).rejects.toBeInstanceOf(CsmHttpError);
  });
});
