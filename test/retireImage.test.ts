// retireImage through the dev stack's Temporal, S3 and CSM simulator (BSS), with this tree's workflows
// on a test worker and two private tgtd servers (127.0.0.34/.35) with their agents, started here.
import { execa } from 'execa';
import { randomInt, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { BssClient } from '../activities/bss/client';
import { CsmClient } from '../activities/csm/client';
import { createIscsiServerActivities } from '../activities/iscsiServer';
import { createOrchestratorActivities } from '../activities/orchestrator';
import { stagedPath } from '../activities/export/staging';
import { showTargets } from '../activities/tgt/tgtadm';
import { devStack, stackEnvironment } from '../dev/config';
import { makeSampleImage } from '../dev/sampleImage';
import { lunIdentity } from '../lib/lunIdentity';
import { iscsiServerTaskQueue } from '../lib/taskQueues';
import { exportImage } from '../workflows/exportImage';
import { retireImage } from '../workflows/retireImage';
import { startTgtd, type PrivateTgtd } from './export/helpers/tgtd';
import { identify, readCapacity } from './export/helpers/initiator';
import { seedImage, type SeededImage } from './helpers/images';
import { connectClient, uniqueId } from './helpers/temporal';
import { startTestWorkers } from './helpers/testWorker';

const require = createRequire(import.meta.url);
const nodeIqn = `iqn.2026-11.test.retire:${randomUUID().slice(0, 8)}`;
const xname = () => `x${randomInt(1000, 9999)}c${randomInt(0, 7)}s${randomInt(0, 7)}b0n${randomInt(0, 3)}`;

describe('retireImage (private tgtd x2 with agents, BSS of the CSM simulator, imagectl)', () => {
  const env = { ...process.env, ...stackEnvironment() } as Record<string, string>;
  const taskQueue = uniqueId('retire');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'retire-'));
  const servers: { name: string; tgtd: PrivateTgtd; cacheDir: string }[] = [];
  const bss = new BssClient(new CsmClient(devStack.csm));
  const [nodeOnOld, nodeOnOther] = [xname(), xname()];
  let workers: { stop(): Promise<void> };
  let client: Client;
  let retiring: SeededImage;
  let other: SeededImage;
  const exported: Record<string, { iqn: string; lun: number }[]> = {};

  const rootfsLink = (image: SeededImage) => ({ linkPath: image.manifest.artifacts[0].link.path, linkEtag: image.manifest.artifacts[0].link.etag! });
  const pathOf = (image: SeededImage, kind: 'kernel' | 'initrd' | 'rootfs') => image.manifest.artifacts.find((a) => a.type.endsWith(kind === 'rootfs' ? 'rootfs.squashfs' : kind))!.link.path;
  const bootEntry = (image: SeededImage) => ({
    kernel: pathOf(image, 'kernel'),
    initrd: pathOf(image, 'initrd'),
    params: `console=ttyS0 root=sbps-s3:${pathOf(image, 'rootfs')}:${rootfsLink(image).linkEtag}:sbps:v1:iqn.2023-06.csm.iscsi:_sbps-hsn._tcp.example.com:300 quiet`,
  });
  const imagectl = (args: string[]) => execa('tsx', ['cli/imagectl.ts', ...args], { env: { ...env, IMAGE_TASK_QUEUE: taskQueue }, reject: false });
  const retireArgs = (image: SeededImage) => ['retire', image.imageId, ...servers.flatMap((s) => ['--server', s.name]), '--wait', '--json'];
  const lunsBySerial = async (server: (typeof servers)[number], serial: string) =>
    (await showTargets(server.tgtd.controlPort)).flatMap((t) => t.luns.filter((l) => l.serial === serial).map((l) => ({ iqn: t.iqn, lun: l.lun })));

  beforeAll(async () => {
    const suffix = randomUUID().slice(0, 6);
    for (const controlPort of [34, 35]) {
      const name = `retire${controlPort}-${suffix}`;
      servers.push({ name, tgtd: await startTgtd(controlPort), cacheDir: path.join(root, name, 'cache') });
    }
    workers = await startTestWorkers([
      { taskQueue, workflowsPath: require.resolve('../workflows/index.ts'), activities: createOrchestratorActivities(env) },
      ...servers.map((s) => ({
        taskQueue: iscsiServerTaskQueue(s.name),
        activities: createIscsiServerActivities(s.name, { ...env, TGT_CONTROL_PORT: String(s.tgtd.controlPort), ISCSI_CACHE_DIR: s.cacheDir, ISCSI_SECRETS_DIR: root }),
      })),
    ]);
    client = await connectClient();
    const sample = await makeSampleImage(path.join(root, 'image'), { payloadMiB: 1, label: uniqueId('retire') });
    [retiring, other] = [await seedImage(sample), await seedImage(sample)];
    for (const image of [retiring, other]) {
      const result = await client.workflow.execute(exportImage, {
        taskQueue,
        workflowId: uniqueId('retire-export'),
        args: [{ imageId: image.imageId, servers: servers.map((s) => ({ name: s.name })), initiators: [nodeIqn] }],
      });
      exported[image.imageId] = result.servers.map((s) => ({ iqn: s.iqn, lun: s.lun }));
    }
    await bss.create({ hosts: [nodeOnOld], ...bootEntry(retiring) });
    await bss.create({ hosts: [nodeOnOther], ...bootEntry(other) });
  });

  afterAll(async () => {
    await bss.delete([nodeOnOld, nodeOnOther]).catch(() => undefined);
    await workers?.stop();
    await client?.connection.close();
    for (const server of servers) await server.tgtd.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('refuses while BSS boots a node from the image, naming that node only', async () => {
    const run = await imagectl(retireArgs(retiring));
    expect(run.exitCode, run.stderr).toBe(1);
    const outcome = JSON.parse(run.stdout);
    expect(outcome).toMatchObject({ status: 'FAILED', errorType: 'ImageInUse' });
    expect(outcome.error).toContain(`BSS still boots 1 node(s) from image ${retiring.imageId}: ${nodeOnOld};`);
    expect(outcome.error).not.toContain(nodeOnOther);
    for (const server of servers) expect(await lunsBySerial(server, lunIdentity(rootfsLink(retiring)).serial)).toHaveLength(1);
  });

  it('a dry run lists what would go and removes nothing', async () => {
    await bss.patch({ hosts: [nodeOnOld], ...bootEntry(other) });
    const result = await client.workflow.execute(retireImage, { taskQueue, workflowId: uniqueId('retire-dry'), args: [{ imageId: retiring.imageId, servers: servers.map((s) => ({ name: s.name })), dryRun: true }] });
    const staged = (s: (typeof servers)[number]) => stagedPath(s.cacheDir, rootfsLink(retiring));
    expect(result.servers.map((s) => [s.server, s.exports.length, s.cacheFiles.map((f) => f.path)])).toEqual(servers.map((s) => [s.name, 1, [staged(s)]]));
    for (const server of servers) {
      expect(await lunsBySerial(server, lunIdentity(rootfsLink(retiring)).serial)).toHaveLength(1);
      expect(fs.existsSync(staged(server))).toBe(true);
    }
  });

  it('removes the exports and staged files on both servers once nothing boots it; the other image is untouched', async () => {
    const gone = lunIdentity(rootfsLink(retiring));
    const kept = lunIdentity(rootfsLink(other));
    const keptBefore = await Promise.all(servers.map((s) => lunsBySerial(s, kept.serial)));

    const run = await imagectl(retireArgs(retiring));
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const { result } = JSON.parse(run.stdout);
    for (const [index, server] of servers.entries()) {
      const report = result.servers[index];
      expect(report.server).toBe(server.name);
      expect(report.exports.join('\n')).toMatch(new RegExp(`deleted LUN ${exported[retiring.imageId][index].lun} of `));
      expect(report.cacheFiles).toEqual([{ path: stagedPath(server.cacheDir, rootfsLink(retiring)), sizeBytes: expect.any(Number) }]);

      expect(await lunsBySerial(server, gone.serial)).toEqual([]);
      const { iqn, lun } = exported[retiring.imageId][index];
      const login = { initiator: nodeIqn };
      await expect(readCapacity({ address: server.tgtd.address, port: server.tgtd.port, iqn, lun }, login)).rejects.toThrow();
      expect(fs.existsSync(stagedPath(server.cacheDir, rootfsLink(retiring)))).toBe(false);

      expect(await lunsBySerial(server, kept.serial)).toEqual(keptBefore[index]);
      const keptLun = { address: server.tgtd.address, port: server.tgtd.port, ...exported[other.imageId][index] };
      expect((await identify(keptLun, login)).serial).toBe(kept.serial);
      expect(await readCapacity(keptLun, login)).toBeGreaterThan(0);
      expect(fs.existsSync(stagedPath(server.cacheDir, rootfsLink(other)))).toBe(true);
    }
  });

  it('a second retire removes nothing and succeeds', async () => {
    const again = await client.workflow.execute(retireImage, { taskQueue, workflowId: uniqueId('retire-again'), args: [{ imageId: retiring.imageId, servers: servers.map((s) => ({ name: s.name })) }] });
    expect(again.servers.map((s) => [s.server, s.exports, s.cacheFiles, s.keptCacheFiles])).toEqual(servers.map((s) => [s.name, [], [], []]));
  });

  it('imagectl refuses a retire without a server before starting anything', async () => {
    const run = await imagectl(['retire', retiring.imageId]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/servers: give at least one iSCSI server/);
  });
});
