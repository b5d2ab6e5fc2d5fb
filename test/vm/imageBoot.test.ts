// A compute node boots what the lifecycle made of an image (issue 17), end to end with the project's own
// workflows on a real orchestrator worker process: image A is imported (the Debian kernel, the node
// initramfs built the initramfs-tools way, a squashfs with a small userland), LUKS2-encrypted, exported
// from a LIO target in a guest and from a tgtd on the host, and put in the node's BSS entry. Then image B
// (the same squashfs, the project's own initramfs), customized by CFS (a marker file), goes the same way
// and its attach phase waits; a node guest boots the kernel, initrd and
// command line of its BSS entry, gets its CHAP credentials and key pushed, logs in to both portals,
// assembles two multipath paths, opens dm-crypt, mounts the squashfs and switches root: the booted system
// prints B's marker. The host's tgtd then stops and the node keeps reading through the LIO path. The
// server comes back (the agent's record restores its exports) and the rollout's rollback restores A's
// entry: the node, booted from it and attached by a standalone attachNodes, logs in to both servers again
// (the initramfs-tools flavour this time) and prints A's marker.
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CsmClient } from '../../activities/csm/client';
import { createExportActivities } from '../../activities/export/activities';
import { localRunner, sshRunner } from '../../activities/export/commandRunner';
import { fileSecretResolver } from '../../activities/export/secrets';
import { createLioDriver, saveconfigPaths } from '../../activities/lio/driver';
import { createTgtDriver } from '../../activities/tgt/driver';
import { devStack } from '../../dev/config';
import { makeSampleImage } from '../../dev/sampleImage';
import { paramTokens } from '../../lib/bootParams';
import { defaultTargetPrefix } from '../../lib/exportLayout';
import { parseS3Url } from '../../lib/manifest';
import { iscsiServerTaskQueue } from '../../lib/taskQueues';
import { buildNodeInitramfs } from '../../node/initramfs/build';
import { buildInitramfsToolsImage } from '../../node/initramfs-tools/build';
import { attachNodes } from '../../workflows/attachNodes';
import { imageLifecycle, type LifecycleSummary } from '../../workflows/imageLifecycle';
import { rollbackBootParameters } from '../../workflows/rollbackBootParameters';
import type { WorkflowStatus } from '../../workflows/support/status';
import { makeLayerRepo } from '../../dev/gitLayer';
import { s3 } from '../helpers/images';
import { connectClient, uniqueId } from '../helpers/temporal';
import { startTestWorkers } from '../helpers/testWorker';
import { startWorkerProcess, type WorkerProcess } from '../helpers/workerProcess';
import { startGuest, type Guest } from './guest';
import { findKernel, vmDir } from './hostTools';
import { startHostTgtd, type HostTgtd } from './hostTgtd';
import { harnessKeys } from './sshKeys';

const run = randomUUID().slice(0, 6);
const workDir = path.join(vmDir, 'image-boot');
const node = `x${randomInt(1000, 9999)}c0s1b0n0`;
const nodeIqn = 'iqn.2024-01.org.vm-tier:ib-node';
const servers = { lio: `ib-lio-${run}`, tgt: `ib-tgt-${run}` };
const addresses = { lio: '127.0.0.50', nodeSsh: '127.0.0.51', tgt: '127.0.0.52' };
const tgtControlPort = 52;
/** How the node reaches each server: QEMU forwards these guest addresses to the host's portals. */
const nodePortals = { lio: '10.0.2.100', tgt: '10.0.2.101' };
const markerPath = '/etc/boot-image-marker';
const markers = { a: `image A of run ${run}`, b: `customized by CFS in run ${run}` };
const chap = { user: `ib-node-${run}`, password: randomBytes(12).toString('base64url') };
const chapRefs = { userRef: 'chap/user', secretRef: 'chap/password' };
// boot=bootimg selects the initramfs-tools flavour's boot script (image A); the project's own /init (B) ignores it.
const siteParams = `console=ttyS0 boot=bootimg bootimg.iscsi.initiator=${nodeIqn} bootimg.net=eth0:10.0.2.15/24:10.0.2.2 sample.read_passes=150`;
const bssPath = '/apis/bss/boot/v1/bootparameters';
const csm = new CsmClient(devStack.csm);

interface BssEntry {
  kernel: string;
  initrd: string;
  params: string;
}

const bssEntry = async (): Promise<BssEntry> => (await csm.request<(BssEntry & { hosts: string[] })[]>('GET', `${bssPath}?name=${node}`))[0];

/** Resolves with the first console line matching `pattern` after line `from`; rejects past the deadline. */
async function consoleLine(guest: Guest, pattern: RegExp, seconds: number, from = 0): Promise<{ line: string; index: number }> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const lines = fs.readFileSync(guest.consoleLog, 'utf8').split(/\r?\n/);
    const index = lines.findIndex((l, i) => i >= from && pattern.test(l));
    if (index >= 0) return { line: lines[index], index };
    if (/^bootimg: FAILED: /m.test(lines.join('\n'))) throw new Error(`${guest.name} failed to boot:\n${lines.filter((l) => /^bootimg: /.test(l)).join('\n')}`);
    if (Date.now() > deadline) throw new Error(`console of ${guest.name}: no line matching ${pattern} within ${seconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function download(url: string, file: string): Promise<string> {
  const { bucket, key } = parseS3Url(url);
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  await pipeline(object.Body as NodeJS.ReadableStream, fs.createWriteStream(file));
  return file;
}

/**
 * A guest's console without the kernel's messages, which the serial console interleaves anywhere, even
 * inside a line of ours: each is `[<uptime, 6 decimals>] <text>` up to its newline (ours print 2 decimals).
 */
const consoleText = (guest: Guest): string => fs.readFileSync(guest.consoleLog, 'utf8').replace(/\[\s*\d+\.\d{6}\] [^\n]*\n/g, '');

describe('a node boots the lifecycle’s image from its BSS entry, fails over, and boots the previous image after the rollback', { timeout: 1_800_000 }, () => {
  let client: Client;
  let lio: Guest;
  let tgtd: HostTgtd;
  let tgtDriver: ReturnType<typeof createTgtDriver>;
  let agents: { stop(): Promise<void> };
  let orchestrator: WorkerProcess;
  let taskQueue: string;
  /** Image A's initramfs is the initramfs-tools flavour, B's the project's own (node/README.md). */
  const initrds = { a: '', b: '' };
  const secretsDir = path.join(workDir, 'secrets');
  const nodeGuests: Guest[] = [];
  const timings: string[] = [];

  beforeAll(async () => {
    fs.rmSync(workDir, { recursive: true, force: true });
    for (const [ref, value] of Object.entries({ 'chap/user': chap.user, 'chap/password': chap.password })) {
      fs.mkdirSync(path.join(secretsDir, path.dirname(ref)), { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(secretsDir, ref), value, { mode: 0o600 });
    }
    tgtd = await startHostTgtd({ address: addresses.tgt, controlPort: tgtControlPort });
    const initramfs = { kernelVersion: findKernel().version, authorizedKeys: (await harnessKeys()).publicKey };
    [lio, initrds.a, initrds.b] = await Promise.all([
      startGuest({ name: 'ib-lio', role: 'lio', stateDir: path.join(workDir, 'lio'), ssh: { address: addresses.lio, port: 2222 }, hostForwards: [{ address: addresses.lio, port: 3260, guestPort: 3260 }] }),
      buildInitramfsToolsImage({ ...initramfs, output: path.join(workDir, 'initramfs-tools.img') }).then((built) => built.output),
      buildNodeInitramfs({ ...initramfs, output: path.join(workDir, 'node-initramfs.cpio') }).then((built) => built.output),
    ]);
    timings.push(`lio guest booted in ${lio.bootSeconds.toFixed(1)} s`);

    const secrets = fileSecretResolver(secretsDir);
    const lioRunner = sshRunner(lio.sshDestination, lio.sshOptions);
    const lioDriver = createLioDriver({ server: servers.lio, runner: lioRunner, secrets, saveconfigPath: saveconfigPaths.debian });
    tgtDriver = createTgtDriver({ server: servers.tgt, controlPort: tgtControlPort, runner: localRunner(), secrets, recordFile: path.join(workDir, 'tgt-record.json') });
    agents = await startTestWorkers([
      { taskQueue: iscsiServerTaskQueue(servers.lio), activities: createExportActivities({ server: servers.lio, driver: lioDriver, runner: lioRunner, s3, cacheDir: '/vm-state/staging' }) },
      { taskQueue: iscsiServerTaskQueue(servers.tgt), activities: createExportActivities({ server: servers.tgt, driver: tgtDriver, runner: localRunner(), s3, cacheDir: path.join(workDir, 'tgt-cache') }) },
    ]);

    // The site's SSH settings for its nodes: the node's name maps to where its sshd answers.
    const keys = await harnessKeys();
    const sshConfig = path.join(workDir, 'ssh_config');
    fs.writeFileSync(
      sshConfig,
      `Host ${node}\n  HostName ${addresses.nodeSsh}\n  Port 2222\n  User root\n  IdentityFile ${keys.identity}\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  BatchMode yes\n  ConnectTimeout 5\n  LogLevel ERROR\n`,
    );
    taskQueue = uniqueId('image-boot');
    orchestrator = await startWorkerProcess(taskQueue, {
      WORKER_HOST_ID: `image-boot-${run}`,
      INITIATOR_SSH_USER: '',
      INITIATOR_SSH_OPTIONS: `-F ${sshConfig}`,
      INITIATOR_SECRETS_DIR: secretsDir,
    });
    await csm.request('POST', bssPath, { hosts: [node], kernel: 's3://boot-images/none/kernel', initrd: 's3://boot-images/none/initrd', params: siteParams });
    client = await connectClient();
  }, 900_000);

  afterAll(async () => {
    console.log(`image boot timings: ${timings.join('; ')}`);
    await Promise.allSettled(nodeGuests.map((guest) => guest.kill()));
    await orchestrator?.kill('SIGTERM');
    await agents?.stop();
    await client?.connection.close();
    await lio?.stop();
    await tgtd?.stop();
  }, 300_000);

  const exportTo = (targetName: string) => ({ servers: [{ name: servers.lio }, { name: servers.tgt }], initiators: [nodeIqn], chap: chapRefs, targetName });
  const bootTargets = (targetName: string) => [nodePortals.lio, nodePortals.tgt].map((address) => ({ iqn: `${defaultTargetPrefix}${targetName}`, address, port: 3260 }));
  // PBKDF2 with few iterations: the key is random, and Argon2id costs ~20 s and ~700 MiB per open under emulation.
  const encrypt = { pbkdf2Iterations: 1000, sampleSectors: 16 };

  /** Boots the node guest from the kernel, initrd and command line of its BSS entry right now. */
  async function bootFromBss(label: string): Promise<{ guest: Guest; entry: BssEntry; started: number }> {
    const entry = await bssEntry();
    const kernel = await download(entry.kernel, path.join(workDir, `${label}-kernel`));
    const initramfs = await download(entry.initrd, path.join(workDir, `${label}-initrd`));
    const started = performance.now();
    const guest = await startGuest({
      name: 'ib-node',
      role: 'node',
      kernel,
      initrd: initramfs,
      stateDir: path.join(workDir, `node-${label}`),
      ssh: { address: addresses.nodeSsh, port: 2222 },
      guestForwards: [
        { guestAddress: nodePortals.lio, guestPort: 3260, hostAddress: addresses.lio, hostPort: 3260 },
        { guestAddress: nodePortals.tgt, guestPort: 3260, hostAddress: addresses.tgt, hostPort: 3260 },
      ],
      kernelArgs: paramTokens(entry.params).filter((token) => token !== 'console=ttyS0'),
      bootTimeoutMs: 600_000,
    });
    nodeGuests.push(guest);
    return { guest, entry, started };
  }

  /** The disks' states a read pass printed (`sda=running sdb=transport-offline`). */
  const pathStates = (line: string) => Object.fromEntries([...line.matchAll(/ (sd[a-z]+)=(\S+)/g)].map((m) => [m[1], m[2]]));

  test('lifecycle B boots on the node, survives losing a portal, and the rollback boots image A', async () => {
    const sample = await makeSampleImage(path.join(workDir, 'sample'), { payloadMiB: 4, label: `ib-${run}`, files: { [markerPath]: markers.a }, userland: { report: [markerPath] } });
    // Imports come only from IMPORT_ROOTS (the dev stack's state directory among them), not /boot.
    const kernel = path.join(workDir, 'vmlinuz');
    fs.copyFileSync(findKernel().image, kernel);
    const lifecycleA: LifecycleSummary = await client.workflow.execute(imageLifecycle, {
      taskQueue,
      workflowId: uniqueId('ib-a'),
      args: [{
        name: `ib-a-${run}`,
        import: { rootfs: { file: sample.rootfs }, kernel: { file: kernel }, initrd: { file: initrds.a } },
        encrypt,
        export: exportTo(`ib-a-${run}`),
        bootParameters: { nodes: node, iscsi: { targets: bootTargets(`ib-a-${run}`) } },
      }],
    });
    const entryA = await bssEntry();
    expect(entryA.params).toContain(`bootimg.lun.wwid=${lifecycleA.phases.export!.servers[0].wwid}`);

    const layer = await makeLayerRepo(`ib-${run}`, [{ name: 'marker', copy: { dest: markerPath, content: markers.b } }]);
    const handleB = await client.workflow.start(imageLifecycle, {
      taskQueue,
      workflowId: uniqueId('ib-b'),
      args: [{
        name: `ib-b-${run}`,
        import: { rootfs: { file: sample.rootfs }, kernel: { file: kernel }, initrd: { file: initrds.b } },
        customize: { configuration: `ib-${run}`, layers: [{ name: 'marker', ...layer }] },
        encrypt,
        export: exportTo(`ib-b-${run}`),
        bootParameters: { nodes: node, iscsi: { targets: bootTargets(`ib-b-${run}`) } },
        attach: { waitSeconds: 900 },
      }],
    });
    for (let i = 0; ; i++) {
      const status = await handleB.query<WorkflowStatus>('status');
      if (status.phase === 'attach') break;
      if ((await handleB.describe()).status.name !== 'RUNNING') await handleB.result();
      if (i > 1200) throw new Error('lifecycle B never reached its attach phase');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }

    const b = await bootFromBss('b');
    const lifecycleB = await handleB.result();
    const exportB = lifecycleB.phases.export!;
    const wwidB = exportB.servers[0].wwid;
    expect(b.entry.kernel).toBe(lifecycleB.phases.customize!.manifest.path.replace(/manifest\.json$/, 'kernel'));
    expect(b.entry.params).toContain(`bootimg.lun.wwid=${wwidB}`);
    expect(b.entry.params).toContain(`bootimg.iscsi.chap=${chapRefs.userRef}`);
    expect(lifecycleB.phases.attach).toMatchObject({ nodes: 1, attached: 1, failed: 0 });

    const switched = await consoleLine(b.guest, /^bootimg: .* switching root/, 600);
    timings.push(`node booted image B: SSH in the initramfs ${b.guest.bootSeconds.toFixed(1)} s, root switched ${((performance.now() - b.started) / 1000).toFixed(1)} s after QEMU started`);
    const firstPass = await consoleLine(b.guest, /^sample-init: read pass 2:/, 300, switched.index);
    let log = consoleText(b.guest);
    console.log(`node B's boot (kernel uptime per stage):\n${log.split('\n').filter((line) => line.startsWith('bootimg: ')).join('\n')}`);
    for (const address of Object.values(nodePortals)) expect(log).toContain(`logged in to ${defaultTargetPrefix}ib-b-${run} at ${address}:3260`);
    expect(log).toContain(`CHAP credentials for ${chap.user} received, file removed`);
    expect(log).toContain(`multipath map ${wwidB}: 2 active paths`);
    expect(log).toMatch(/dm-crypt open: type: LUKS2 cipher: aes-xts-plain64 mode: readonly/);
    expect(log).toContain(`sample-init: ${markerPath}: ${markers.b}`);
    expect(log).toMatch(/^sample-init: storage daemons still running: iscsid multipathd $/m);
    expect(log).toMatch(/^sample-init: root: overlay overlay \S*lowerdir=\/bootimg\/lower/m);
    expect(log).toMatch(/^sample-init: device-mapper bootimg-root \(CRYPT-LUKS2-/m);
    expect(log).toContain(`key file /dev/shm/${lifecycleB.phases.encrypt!.artifact.luks.keyId} removed`);

    // One portal goes away: the host's tgtd stops under the node's reads.
    await tgtd.stop();
    const down = await consoleLine(b.guest, /^sample-init: read pass \d+: ok .* paths:.*=(?!running)\S+/, 300, firstPass.index);
    const readOnOnePath = await consoleLine(b.guest, /^sample-init: read pass \d+: ok /, 120, down.index + 1);
    log = consoleText(b.guest);
    const passes = log.split('\n').filter((line) => line.startsWith('sample-init: read pass '));
    console.log(`node B's read passes:\n${passes.join('\n')}`);
    expect(passes.every((line) => / ok /.test(line))).toBe(true);
    expect(Object.values(pathStates(down.line))).toContain('running');
    expect(Object.values(pathStates(readOnOnePath.line))).toContain('running');
    await b.guest.kill();

    // The server comes back offline (as tgt.service with the project's drop-in starts it); the agent's
    // record restores every export, ACL and CHAP account it had, then sets it ready.
    tgtd = await startHostTgtd({ address: addresses.tgt, controlPort: tgtControlPort, offline: true });
    const restored = await tgtDriver.restoreConfig();
    expect(restored.failed).toEqual([]);
    expect(restored.restored.join('\n')).toContain(`${defaultTargetPrefix}ib-a-${run}`);

    // The rollout's rollback: A's entry comes back, the node boots it, and a standalone attach unlocks it.
    await client.workflow.execute(rollbackBootParameters, { taskQueue, workflowId: uniqueId('ib-rollback'), args: [{ changeId: lifecycleB.phases.bootParameters!.changeId }] });
    expect(await bssEntry()).toMatchObject({ kernel: entryA.kernel, initrd: entryA.initrd, params: entryA.params });
    const a = await bootFromBss('a');
    const attached = await client.workflow.execute(attachNodes, {
      taskQueue,
      workflowId: uniqueId('ib-attach-a'),
      args: [{ nodes: node, iscsi: { lunWwid: lifecycleA.phases.export!.servers[0].wwid, luksKeyRef: lifecycleA.phases.encrypt!.artifact.luks.keyId, chapRef: chapRefs.userRef }, chap: chapRefs, waitSeconds: 600 }],
    });
    expect(attached).toMatchObject({ nodes: 1, attached: 1, failed: 0 });
    await consoleLine(a.guest, /^sample-init: read pass 1: ok /, 600);
    timings.push(`node booted image A after the rollback: root switched ${((performance.now() - a.started) / 1000).toFixed(1)} s after QEMU started`);
    log = consoleText(a.guest);
    expect(log).toContain(`sample-init: ${markerPath}: ${markers.a}`);
    expect(log).toContain(`multipath map ${lifecycleA.phases.export!.servers[0].wwid}: 2 active paths`);
    for (const guest of [a.guest, b.guest]) expect(fs.readFileSync(guest.consoleLog, 'utf8')).not.toContain(chap.password);
    await a.guest.kill();
  });
});
