// Benchmark: the whole lifecycle on the dev stack, as an operator starts it on the stack's workers: a
// random rootfs of --size-gib through import, CFS customize, LUKS2, export on both tgtd servers, the
// validation of --nodes nodes and a rollout of --nodes nodes (a canary, then batches of 500). Each
// phase's time (its child workflow, start to close) beside that phase's floor, measured in the same run:
//   import     one md5sum pass over the rootfs (every byte must be hashed once)
//   customize  the CFS session's own time, as CFS reports it (the service's work, not ours)
//   encrypt    cp of the rootfs plus AES-XTS over it at `openssl speed`'s rate on every core
//   export     the staging copy: both servers' downloads of the container from S3, at once
//   validate   the same checks as a shell loop (bench/support/validationShellLoop.ts)
//   rollout    the same PATCHes as a bare loop at the rollout's concurrency
// and the total's ratio to the sum of the floors.
// Usage: npm run bench -- lifecycle [--size-gib 2] [--nodes 1000]
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { Client, Connection } from '@temporalio/client';
import { execa } from 'execa';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { createS3Client } from '../activities/s3/client';
import { devStack } from '../dev/config';
import { makeLayerRepo } from '../dev/gitLayer';
import { removeDevStackExports } from '../test/helpers/exports';
import { inBatches } from '../lib/bootParams';
import { parseS3Url } from '../lib/manifest';
import { imageLifecycle, type LifecycleSummary } from '../workflows/imageLifecycle';
import { benchNodes, bssPath, csm, inPool, removeEntries, resetEntries } from './support/bssNodes';
import { benchLine, seconds, timedCommand } from './support/measure';
import { reclaimSpace, writeRandomFile } from './support/tools';
import { validationShellLoop } from './support/validationShellLoop';

const { values } = parseArgs({ options: { 'size-gib': { type: 'string', default: '2' }, nodes: { type: 'string', default: '1000' } } });
const sizeGiB = Number(values['size-gib']);
const nodeCount = Number(values.nodes);
const run = randomUUID().slice(0, 6);
const dir = fs.mkdtempSync(path.join(tmpdir(), 'bench-lifecycle-'));
const s3 = createS3Client(devStack.s3);
const initiator = { driver: 'libiscsi', iqnPattern: `iqn.2026-12.bench.lifecycle-${run}:{node}` } as const;
const validateNodes = `nid[0001-${String(nodeCount).padStart(4, '0')}]`;
const rolloutNodes = benchNodes(nodeCount);
const rollout = { canarySize: 1, batchSize: 500, concurrency: 4 };

/** A squashfs of one random file, uncompressed (random bytes do not compress: mksquashfs would only burn CPU trying). */
async function makeRootfs(): Promise<{ rootfs: string; kernel: string; initrd: string }> {
  const root = path.join(dir, 'root');
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/os-release'), `NAME="Bench Compute"\nID=bench\nVERSION_ID="${run}"\n`);
  writeRandomFile(path.join(root, 'payload.bin'), sizeGiB * 2 ** 30);
  const image = { rootfs: path.join(dir, 'rootfs.squashfs'), kernel: path.join(dir, 'vmlinuz'), initrd: path.join(dir, 'initrd.img') };
  await execa('mksquashfs', [root, image.rootfs, '-noappend', '-quiet', '-noI', '-noD', '-noF', '-noX', '-all-root']);
  fs.rmSync(root, { recursive: true });
  writeRandomFile(image.kernel, 8 * 2 ** 20);
  writeRandomFile(image.initrd, 32 * 2 ** 20);
  return image;
}

/** Start to close of each phase's child workflow, in seconds. */
async function phaseSeconds(client: Client, lifecycleId: string, phases: string[]): Promise<Record<string, number>> {
  const entries = await Promise.all(
    phases.map(async (phase) => {
      const described = await client.workflow.getHandle(`${lifecycleId}.${phase}`).describe();
      return [phase, (described.closeTime!.getTime() - described.startTime.getTime()) / 1000] as const;
    }),
  );
  return Object.fromEntries(entries);
}

async function cfsSessionSeconds(sessionName: string): Promise<number> {
  const session = await csm.request<{ status: { session: { start_time: string; completion_time: string } } }>('GET', `/apis/cfs/v3/sessions/${sessionName}`);
  return (Date.parse(session.status.session.completion_time) - Date.parse(session.status.session.start_time)) / 1000;
}

/** AES-256-XTS bytes per second on one core, from `openssl speed`'s largest block. */
async function xtsBytesPerSecond(): Promise<number> {
  const { stdout } = await execa('openssl', ['speed', '-evp', 'aes-256-xts', '-seconds', '2', '-bytes', String(2 ** 20)]);
  const kBps = Number(stdout.trim().split('\n').at(-1)!.trim().split(/\s+/).at(-1)!.replace(/k$/, ''));
  return kBps * 1000;
}

async function download(url: string, file: string): Promise<void> {
  const { bucket, key } = parseS3Url(url);
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  await pipeline(object.Body as Readable, fs.createWriteStream(file));
}

async function objectSize(url: string): Promise<number> {
  const { bucket, key } = parseS3Url(url);
  return (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength!;
}

const connection = await Connection.connect({ address: devStack.temporal.address });
const client = new Client({ connection, namespace: devStack.temporal.namespace });
let summary: LifecycleSummary | undefined;
try {
  const image = await makeRootfs();
  const size = fs.statSync(image.rootfs).size;
  const layer = await makeLayerRepo(`bench-${run}`, [{ name: 'motd', copy: { dest: '/etc/motd', content: 'customized by the lifecycle benchmark\n' } }]);
  await resetEntries(rolloutNodes, rollout.concurrency);
  console.log(`rootfs ${(size / 2 ** 30).toFixed(2)} GiB; ${nodeCount} nodes validated, ${nodeCount} rolled out`);

  const lifecycleId = `bench-lifecycle-${run}`;
  const total = await seconds(async () => {
    const handle = await client.workflow.start(imageLifecycle, {
      taskQueue: devStack.temporal.taskQueue,
      workflowId: lifecycleId,
      args: [
        {
          name: `bench-${run}`,
          import: { rootfs: { file: image.rootfs }, kernel: { file: image.kernel }, initrd: { file: image.initrd } },
          customize: { configuration: `bench-${run}`, layers: [{ name: 'motd', ...layer }], pollIntervalSeconds: 1 },
          encrypt: { luksVersion: 2 },
          export: { servers: devStack.iscsiServers.map((s) => ({ name: s.name })), initiators: 'generate-node-acls' },
          validate: { nodes: validateNodes, initiator },
          bootParameters: { nodes: rolloutNodes.join(','), ...rollout },
        },
      ],
    });
    summary = await handle.result();
  });
  const phases = await phaseSeconds(client, lifecycleId, ['import', 'customize', 'encrypt', 'export', 'validate', 'boot-parameters']);
  const { encrypt, export: exported, customize } = summary!.phases;

  const floors: Record<string, number | undefined> = {};
  floors.import = (await timedCommand('md5sum', [image.rootfs])).seconds;
  floors.customize = await cfsSessionSeconds(customize!.sessionName);
  const copy = path.join(dir, 'copy');
  const cp = (await timedCommand('cp', [image.rootfs, copy])).seconds;
  fs.rmSync(copy);
  floors.encrypt = cp + size / (availableParallelism() * (await xtsBytesPerSecond()));
  floors.export = await seconds(() => Promise.all(exported!.servers.map((_, i) => download(encrypt!.artifact.link.path, path.join(dir, `staged-${i}`)))));
  for (const i of exported!.servers.keys()) fs.rmSync(path.join(dir, `staged-${i}`));
  floors.validate = await validationShellLoop({
    initiators: Array.from({ length: nodeCount }, (_, i) => initiator.iqnPattern.replace('{node}', `nid${String(i + 1).padStart(4, '0')}`)),
    targets: exported!.servers.map((s) => {
      const server = devStack.iscsiServers.find((d) => d.name === s.server)!;
      return { address: server.address, port: server.port, iqn: s.iqn };
    }),
    lun: exported!.servers[0].lun,
    sizeBytes: await objectSize(encrypt!.artifact.link.path),
    concurrency: 8 * exported!.servers.length,
    dir,
  });
  const [newEntry] = await csm.request<{ kernel: string; initrd: string; params: string }[]>('GET', `${bssPath}?name=${rolloutNodes[0]}`);
  const batches = [rolloutNodes.slice(0, rollout.canarySize), ...inBatches(rolloutNodes.slice(rollout.canarySize), rollout.batchSize)];
  floors['boot-parameters'] = await seconds(async () => {
    await csm.request('PATCH', bssPath, { hosts: batches[0], kernel: newEntry.kernel, initrd: newEntry.initrd, params: newEntry.params });
    await inPool(batches.slice(1), rollout.concurrency, (hosts) => csm.request('PATCH', bssPath, { hosts, kernel: newEntry.kernel, initrd: newEntry.initrd, params: newEntry.params }));
  });

  console.log('| phase | ours (s) | floor (s) | ratio |\n|---|---|---|---|');
  for (const [phase, ours] of Object.entries(phases)) console.log(`| ${phase} | ${ours.toFixed(1)} | ${floors[phase]!.toFixed(1)} | ${(ours / floors[phase]!).toFixed(2)} |`);
  const sumPhases = Object.values(phases).reduce((a, b) => a + b, 0);
  const sumFloors = Object.values(floors).reduce((a, b) => a! + b!, 0)!;
  console.log(`| all phases | ${sumPhases.toFixed(1)} | ${sumFloors.toFixed(1)} | ${(sumPhases / sumFloors).toFixed(2)} |\nlifecycle wall time ${total.toFixed(1)} s`);
  console.log(benchLine('lifecycle', { size_gib: sizeGiB, nodes: nodeCount, ratio_floor: sumPhases / sumFloors, seconds: total, ...Object.fromEntries(Object.entries(phases).map(([phase, ours]) => [`ratio_${phase.replace('-', '_')}`, ours / floors[phase]!])) }));
} finally {
  if (summary?.phases.export) await removeDevStackExports([{ linkPath: summary.phases.export.artifact.path, linkEtag: summary.phases.export.artifact.etag }]).catch((error: Error) => console.error(`exports left: ${error.message}`));
  await removeEntries(rolloutNodes, rollout.concurrency);
  await connection.close();
  fs.rmSync(dir, { recursive: true, force: true });
  await reclaimSpace();
}
