// The real kernel path (issue 16): exportImage, through the project's LIO driver and agent activities,
// exports a LUKS2 image from a LIO target in a guest and from a tgtd on the host; validateInitiators,
// through the project's open-iscsi driver over SSH, checks it from a compute-node guest: discovery and
// CHAP login on both portals, one multipath map with two active paths, dm-crypt opened with the key, the
// squashfs mounted read-only and a marker file read. Wrong CHAP secrets, a node outside the ACL and a
// wrong key fail with their reasons; two images keep their own ACLs and CHAP on real LIO; a rebooted LIO
// guest restores every export from its saved configuration and the node logs in again.
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { devStack } from '../../dev/config';
import { makeSampleImage } from '../../dev/sampleImage';
import { createExportActivities } from '../../activities/export/activities';
import { CommandFailed, localRunner, sshRunner } from '../../activities/export/commandRunner';
import { fileSecretResolver } from '../../activities/export/secrets';
import { createInitiatorActivities } from '../../activities/initiator/activities';
import { createFileKeyStore } from '../../activities/keys/fileKeyStore';
import { createLuksActivities } from '../../activities/luks/activities';
import { createLioDriver, saveconfigPaths } from '../../activities/lio/driver';
import { parseSaveconfig } from '../../activities/lio/saveconfig';
import { createS3ImportActivities } from '../../activities/s3/activities';
import { createTgtDriver } from '../../activities/tgt/driver';
import { iscsiServerTaskQueue } from '../../lib/taskQueues';
import { lunIdentity } from '../../lib/lunIdentity';
import { MediaType } from '../../lib/manifest';
import type { ValidationSummary } from '../../workflows/validateInitiators';
import { exportImage, type ExportImageResult } from '../../workflows/exportImage';
import { readS3Json, seedImage, s3 } from '../helpers/images';
import { connectClient, uniqueId } from '../helpers/temporal';
import { startTestWorkers, withTestWorker } from '../helpers/testWorker';
import { workflowsPath } from '../initiator/helpers';
import { startGuest, type Guest } from './guest';
import { vmDir } from './hostTools';
import { startHostTgtd, type HostTgtd } from './hostTgtd';

const run = randomUUID().slice(0, 6);
const workDir = path.join(vmDir, 'kernel-path');
const nodeName = 'vmnode1';
const nodeIqn = `iqn.2024-01.org.vm-tier:${nodeName}`;
const marker = { path: '/etc/boot-image-marker', content: `customized by run ${run}\n` };
const servers = { lio: `vm-lio-${run}`, tgt: `vm-tgt-${run}` };
/** How the node reaches each server: QEMU forwards these guest addresses to the host's portals. */
const nodePortals = { lio: { address: '10.0.2.100', port: 3260 }, tgt: { address: '10.0.2.101', port: 3260 } };

describe('the real kernel path: LIO in a guest, open-iscsi + multipath + dm-crypt on a node guest', { timeout: 900_000 }, () => {
  let client: Client;
  let lio: Guest;
  let node: Guest;
  let tgtd: HostTgtd;
  let agents: { stop(): Promise<void> };
  const secretsDir = path.join(workDir, 'secrets');
  const keysDir = path.join(workDir, 'keys');
  const chap = { user: `node-${run}`, password: randomBytes(12).toString('base64url') };
  let container: { file: string; uuid: string; keyId: string };
  const bootTimes: string[] = [];

  beforeAll(async () => {
    fs.rmSync(workDir, { recursive: true, force: true });
    for (const [ref, value] of Object.entries({
      'chap/user': chap.user,
      'chap/password': chap.password,
      'chap/wrong-password': randomBytes(12).toString('base64url'),
      'other/user': `other-${run}`,
      'other/password': randomBytes(12).toString('base64url'),
    })) {
      fs.mkdirSync(path.join(secretsDir, path.dirname(ref)), { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(secretsDir, ref), value, { mode: 0o600 });
    }
    const sample = await makeSampleImage(path.join(workDir, 'sample'), { payloadMiB: 1, label: `vm-${run}`, files: { [marker.path]: marker.content } });
    // PBKDF2 with few iterations: Argon2id takes ~20 s per key check under emulation.
    const luks = createLuksActivities({ keyStore: createFileKeyStore(keysDir), workDir: path.join(workDir, 'luks'), pbkdf: { pbkdf2Iterations: 1000 } });
    const file = path.join(workDir, 'rootfs.luks');
    const encrypted = await luks.encryptFile({ source: sample.rootfs, destination: file, luksVersion: 2 });
    container = { file, uuid: encrypted.uuid, keyId: encrypted.keyId };

    tgtd = await startHostTgtd({ address: '127.0.0.45', controlPort: 45 });
    [lio, node] = await Promise.all([
      startGuest({ name: 'vm-lio', role: 'lio', stateDir: path.join(workDir, 'vm-lio'), ssh: { address: '127.0.0.40', port: 2222 }, hostForwards: [{ address: '127.0.0.40', port: 3260, guestPort: 3260 }] }),
      startGuest({
        name: nodeName,
        role: 'node',
        stateDir: path.join(workDir, nodeName),
        ssh: { address: '127.0.0.41', port: 2222 },
        initiatorName: nodeIqn,
        guestForwards: [
          { guestAddress: nodePortals.lio.address, guestPort: 3260, hostAddress: '127.0.0.40', hostPort: 3260 },
          { guestAddress: nodePortals.tgt.address, guestPort: 3260, hostAddress: '127.0.0.45', hostPort: 3260 },
        ],
      }),
    ]);
    bootTimes.push(`lio guest ${lio.bootSeconds.toFixed(1)} s`, `node guest ${node.bootSeconds.toFixed(1)} s`);

    const lioRunner = sshRunner(lio.sshDestination, lio.sshOptions);
    const secrets = fileSecretResolver(secretsDir);
    const lioDriver = createLioDriver({ server: servers.lio, runner: lioRunner, secrets, saveconfigPath: saveconfigPaths.debian });
    const tgtDriver = createTgtDriver({ server: servers.tgt, controlPort: 45, runner: localRunner(), secrets, recordFile: path.join(workDir, 'tgt-record.json') });
    agents = await startTestWorkers([
      { taskQueue: iscsiServerTaskQueue(servers.lio), activities: createExportActivities({ server: servers.lio, driver: lioDriver, runner: lioRunner, s3, cacheDir: '/vm-state/staging' }) },
      { taskQueue: iscsiServerTaskQueue(servers.tgt), activities: createExportActivities({ server: servers.tgt, driver: tgtDriver, runner: localRunner(), s3, cacheDir: path.join(workDir, 'tgt-cache') }) },
    ]);
    client = await connectClient();
  }, 900_000);

  afterAll(async () => {
    console.log(`VM boot times (QEMU start to SSH answering): ${bootTimes.join('; ')}`);
    await agents?.stop();
    await client?.connection.close();
    await Promise.allSettled([lio?.stop(), node?.stop()]);
    await tgtd?.stop();
  }, 300_000);

  /** The LUKS container as an IMS image of its own, exported on both servers with the node's ACL and CHAP. */
  async function exportContainer(options: { initiators: string[]; chap: { userRef: string; secretRef: string } }): Promise<ExportImageResult> {
    const image = await seedImage({ rootfs: container.file, rootfsLuks: container.file }, { name: uniqueId('vm-image') });
    return client.workflow.execute(exportImage, {
      taskQueue: devStack.temporal.taskQueue,
      workflowId: uniqueId('vm-export'),
      args: [{ imageId: image.imageId, artifactType: MediaType.rootfsLuks, servers: [{ name: servers.lio }, { name: servers.tgt }], initiators: options.initiators, chap: options.chap }],
    });
  }

  const sshConfig = () => {
    const file = path.join(workDir, 'ssh_config');
    const option = (name: string) => node.sshOptions[node.sshOptions.indexOf(name) + 1];
    fs.writeFileSync(
      file,
      `Host ${nodeName}\n  HostName 127.0.0.41\n  Port ${option('-p')}\n  User root\n  IdentityFile ${option('-i')}\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  BatchMode yes\n  LogLevel ERROR\n`,
    );
    return file;
  };

  /** validateInitiators with the open-iscsi driver, on the node guest over SSH. */
  async function validate(exported: ExportImageResult, extra: Record<string, unknown> = {}): Promise<{ summary?: ValidationSummary; message?: string }> {
    const activities = {
      ...createS3ImportActivities(s3),
      ...createInitiatorActivities({ INITIATOR_SECRETS_DIR: secretsDir, LUKS_KEY_DIR: keysDir, INITIATOR_WORK_DIR: path.join(workDir, 'initiator'), INITIATOR_SSH_USER: '', INITIATOR_SSH_OPTIONS: `-F ${sshConfig()}` }),
    };
    const iqn = exported.servers[0].iqn;
    return withTestWorker({ workflowsPath, activities }, ({ client: worker, taskQueue }) =>
      worker.workflow
        .execute('validateInitiators', {
          taskQueue,
          workflowId: uniqueId('vm-validate'),
          args: [
            {
              nodes: nodeName,
              rootfs: { path: exported.artifact.path, etag: exported.artifact.etag },
              iscsi: { targets: [{ iqn, ...nodePortals.lio }, { iqn, ...nodePortals.tgt }], luksKeyRef: container.keyId },
              initiator: { driver: 'open-iscsi' },
              chap: { userRef: 'chap/user', secretRef: 'chap/password' },
              luks: { uuid: container.uuid },
              content: { path: marker.path, sha256: createHash('sha256').update(marker.content).digest('hex') },
              ...extra,
            },
          ],
        })
        .then(
          (summary) => ({ summary: summary as ValidationSummary }),
          (error: unknown) => ({ message: ((error as WorkflowFailedError).cause as Error).message }),
        ),
    );
  }

  /** Nothing the checks opened stays open on the node: no iSCSI session, no device-mapper device. */
  async function expectNodeClean() {
    const sessions = await node.run(['iscsiadm', '-m', 'session']).catch((error: unknown) => error);
    expect(sessions instanceof CommandFailed && sessions.exitCode === 21, `sessions left: ${(sessions as { stdout?: string }).stdout}`).toBe(true);
    expect((await node.run(['dmsetup', 'ls'])).stdout.trim()).toBe('No devices found');
  }

  let exported: ExportImageResult;

  test('exports the LUKS2 image from LIO and tgt; the node logs in to both with CHAP, sees two paths to one WWID, opens it and reads the marker', async () => {
    exported = await exportContainer({ initiators: [nodeIqn], chap: { userRef: 'chap/user', secretRef: 'chap/password' } });
    const identity = lunIdentity({ linkPath: exported.artifact.path, linkEtag: exported.artifact.etag });
    expect(exported.layout).toBe('per-image');
    expect(exported.servers.map((s) => [s.server, s.lun, s.wwid])).toEqual([
      [servers.lio, 1, identity.wwid],
      [servers.tgt, 1, identity.wwid],
    ]);
    const { summary, message } = await validate(exported);
    expect(message).toBeUndefined();
    expect(summary).toMatchObject({ nodes: 1, passed: 1, failed: 0 });
    const passed = (await reportOf(summary!)).nodes[0].passed as string[];
    for (const portal of Object.values(nodePortals)) {
      for (const check of ['discovery', 'login', 'identity', 'capacity', 'write-refused']) expect(passed).toContain(`${portal.address}:${portal.port}:${check}`);
    }
    expect(passed).toEqual(expect.arrayContaining(['multipath', 'luks-header', 'luks-key', 'content']));
    await expectNodeClean();
  });

  test('fails with the reasons: a wrong CHAP secret, a wrong key, and a node outside the ACL', async () => {
    const wrongChap = await validate(exported, { chap: { userRef: 'chap/user', secretRef: 'chap/wrong-password' } });
    expect(wrongChap.message).toMatch(/login: .*(authorization|authentication)/i);
    const otherKey = await createFileKeyStore(keysDir).createKey();
    const withOtherKey = await validate(exported, { luks: { uuid: container.uuid, keyId: otherKey.keyId } });
    expect(withOtherKey.message).toMatch(/luks-key: key .* opens no key slot/);
    const elsewhere = await exportContainer({ initiators: ['iqn.2024-01.org.vm-tier:another-node'], chap: { userRef: 'other/user', secretRef: 'other/password' } });
    const outside = await validate(elsewhere, { chap: { userRef: 'other/user', secretRef: 'other/password' } });
    expect(outside.message).toMatch(/(discovery|login): /);
    await expectNodeClean();
    // Two images on the same servers with their own ACLs and CHAP: the first still opens with its own.
    expect((await validate(exported)).summary).toMatchObject({ passed: 1 });
    // Removing the second changes nothing of the first on LIO.
    const lioState = async () => parseSaveconfig((await lio.run(['cat', saveconfigPaths.debian])).stdout).targets.find((t) => t.wwn === exported.servers[0].iqn);
    const before = await lioState();
    await retire(elsewhere);
    expect(await lioState()).toEqual(before);
    expect((await lio.run(['cat', saveconfigPaths.debian])).stdout).not.toContain(elsewhere.servers[0].iqn);
  });

  test('a rebooted LIO guest restores every export at the same target, LUN and WWID, and the node logs in again', async () => {
    const listed = async () => (await lio.run(['cat', saveconfigPaths.debian])).stdout;
    const before = parseSaveconfig(await listed());
    await lio.reboot();
    bootTimes.push(`lio guest, reboot ${lio.bootSeconds.toFixed(1)} s`);
    expect(fs.readFileSync(lio.consoleLog, 'utf8')).toContain('LIO configuration restored');
    const running = await lio.run(['targetcli', 'ls', `/iscsi/${exported.servers[0].iqn}/tpg1/luns`]);
    expect(running.stdout).toContain('lun1');
    expect(parseSaveconfig(await listed())).toEqual(before);
    const again = await validate(exported);
    expect(again.message).toBeUndefined();
    expect(again.summary).toMatchObject({ passed: 1, failed: 0 });
    await expectNodeClean();
  });

  const retire = (result: ExportImageResult) =>
    client.workflow.execute('retireImage', {
      taskQueue: devStack.temporal.taskQueue,
      workflowId: uniqueId('vm-retire'),
      args: [{ imageId: result.imageId, servers: [{ name: servers.lio }, { name: servers.tgt }] }],
    });

  /** The first part of the validation's S3 report: every node's passed, failed and skipped checks. */
  const reportOf = async (summary: ValidationSummary) => readS3Json((await readS3Json(summary.report)).parts[0]);
});
