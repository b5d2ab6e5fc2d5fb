// The agent-less mode (ISCSI_SSH_DESTINATION): a central worker stages and exports over SSH. A real sshd
// on 127.0.0.30 stands for the iSCSI server, with a private tgtd on 127.0.0.31 (control port 31) on it;
// the export activities run here with the SSH runner for both the tgt driver and staging, and libiscsi
// reads the LUN back.
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExportActivities } from '../../activities/export/activities';
import { fileSecretResolver } from '../../activities/export/secrets';
import { stageArtifact, type Progress } from '../../activities/export/staging';
import { createS3Client } from '../../activities/s3/client';
import { createTgtDriver } from '../../activities/tgt/driver';
import { devStack } from '../../dev/config';
import { copyHead } from '../../activities/initiator/libiscsi';
import { identify, readCapacity } from './helpers/initiator';
import { startSshd, type PrivateSshd } from './helpers/sshd';
import { startTgtd, type PrivateTgtd } from './helpers/tgtd';

describe('staging and export over SSH (real sshd, real tgtd, libiscsi)', () => {
  const s3 = createS3Client(devStack.s3);
  const key = `ssh-test/${randomUUID()}/rootfs`;
  const body = randomBytes(3 * 1024 * 1024);
  const md5 = createHash('md5').update(body).digest('hex');
  const initiator = `iqn.2026-11.test.ssh:${randomUUID().slice(0, 8)}`;
  let sshd: PrivateSshd;
  let tgtd: PrivateTgtd;
  let root: string;
  let cacheDir: string;
  let request: { linkPath: string; linkEtag: string; md5: string };
  let activities: ReturnType<typeof createExportActivities>;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'ssh-staging-'));
    cacheDir = path.join(root, 'cache');
    const etag = (await s3.send(new PutObjectCommand({ Bucket: 'boot-images', Key: key, Body: body }))).ETag!.replaceAll('"', '');
    request = { linkPath: `s3://boot-images/${key}`, linkEtag: etag, md5 };
    sshd = await startSshd('127.0.0.30');
    tgtd = await startTgtd(31);
    const { runner } = sshd;
    const driver = createTgtDriver({ server: 'ssh-test', controlPort: 31, runner, secrets: fileSecretResolver(root), recordFile: path.join(root, 'record.json') });
    activities = createExportActivities({ server: 'ssh-test', driver, runner, s3, cacheDir, cacheMaxBytes: 8 * 1024 * 1024 });
  });

  afterAll(async () => {
    await tgtd?.stop();
    await sshd?.stop();
    await s3.send(new DeleteObjectCommand({ Bucket: 'boot-images', Key: key }));
    await rm(root, { recursive: true, force: true });
  });

  it('stages through the SSH session into a private file (remote umask 000), exports it, and the LUN is that file', async () => {
    const staged = await activities.stageArtifact(request);
    expect(staged).toMatchObject({ server: 'ssh-test', downloaded: true, sizeBytes: body.length, md5, evicted: [] });
    const commands = await sshd.commands();
    expect(commands.some((c) => c.includes('exec cat > "$1"') && c.includes(`${staged.path}.partial-`))).toBe(true);
    expect(commands.some((c) => c.startsWith(`mv -f -- ${staged.path}.partial-`))).toBe(true);
    expect((await stat(staged.path)).mode & 0o777).toBe(0o400);
    expect((await stat(cacheDir)).mode & 0o777).toBe(0o700);

    const placement = { layout: 'per-image' as const, targetIqn: 'iqn.2026-11.test.ssh:staging' };
    const exported = await activities.ensureExport({ ...request, placement, backingFile: staged.path, sizeBytes: staged.sizeBytes, initiators: [initiator], portals: [] });
    expect((await sshd.commands()).some((c) => c.startsWith('tgtadm -C 31 --lld iscsi --op new --mode logicalunit'))).toBe(true);
    const lun = { address: tgtd.address, port: tgtd.port, iqn: exported.iqn, lun: exported.lun };
    const login = { initiator };
    expect(await readCapacity(lun, login)).toBe(body.length);
    expect((await identify(lun, login)).serial).toBe(exported.serial);
    const copy = path.join(root, 'read-back');
    await copyHead(lun, login, { length: body.length, file: copy });
    expect(createHash('md5').update(await readFile(copy)).digest('hex')).toBe(md5);
  });

  it('checks the cached copy on the server (stat, md5sum) with progress, without downloading again', async () => {
    const before = (await sshd.commands()).length;
    const progress: Progress[] = [];
    const again = await stageArtifact({ s3, runner: sshd.runner, cacheDir, onProgress: (p) => progress.push(p) }, request);
    expect(again.downloaded).toBe(false);
    expect(progress.at(-1)).toEqual({ bytesDone: body.length, bytesTotal: body.length });
    const ran = (await sshd.commands()).slice(before);
    expect(ran.some((c) => c.includes('md5sum'))).toBe(true);
    expect(ran.some((c) => c.includes('cat >'))).toBe(false);
  });

  it('renames nothing into place on the server when the md5 does not match', async () => {
    const other = path.join(root, 'other-cache');
    await expect(stageArtifact({ s3, runner: sshd.runner, cacheDir: other }, { ...request, md5: '0'.repeat(32) })).rejects.toMatchObject({ type: 'StagedFileCorrupt' });
    expect(await readdir(other)).toEqual([]);
  });

  it('removes the export over SSH', async () => {
    expect(await activities.removeExport(request)).toMatchObject({ removed: true });
    expect(await activities.listExports()).toEqual({ server: 'ssh-test', exports: [] });
  });
});
