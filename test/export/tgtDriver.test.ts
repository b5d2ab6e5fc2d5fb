import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lunIdentity, marshalTargetIqn } from '../../lib/lunIdentity';
import { printableNaaIdentity } from './helpers/identities';
import { preferredSbpsLun } from '../../lib/exportLayout';
import { localRunner } from '../../activities/export/commandRunner';
import type { ExportSpec, TargetDriver } from '../../activities/export/driver';
import { fileSecretResolver } from '../../activities/export/secrets';
import { createTgtDriver } from '../../activities/tgt/driver';
import { parseAccounts, showTargets } from '../../activities/tgt/tgtadm';
import { startTgtd, type PrivateTgtd } from './helpers/tgtd';
import { discover, identify, readCapacity, tryWrite, type Login } from './helpers/initiator';

// Two private tgtd servers (control ports 20 and 21 on 127.0.0.20/.21), real libiscsi initiators.
describe('tgt driver against real tgtd, seen from libiscsi', () => {
  const servers: { name: string; tgtd: PrivateTgtd; driver: TargetDriver }[] = [];
  let dir: string;
  let spec: Omit<ExportSpec, 'portals'>;
  const targetIqn = `iqn.2026-11.test.export:${randomUUID().slice(0, 8)}`;
  const allowed = `iqn.2026-11.test.node:${randomUUID().slice(0, 8)}`;
  const stranger = `iqn.2026-11.test.stranger:${randomUUID().slice(0, 8)}`;
  const chapUser = 'node-user';
  const chapPassword = randomBytes(9).toString('base64url'); // tgt wants 12+ characters for some initiators
  const mutualPassword = randomBytes(9).toString('base64url');
  const login: Login = { initiator: allowed, chap: { user: chapUser, password: chapPassword } };
  const sizeBytes = 3 * 1024 * 1024 + 7 * 512;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tgt-driver-'));
    const secretsDir = path.join(dir, 'secrets');
    await mkdir(path.join(secretsDir, 'chap'), { recursive: true, mode: 0o700 });
    for (const [name, value] of Object.entries({ user: chapUser, password: chapPassword, 'mutual-user': 'target-user', 'mutual-password': mutualPassword })) {
      await writeFile(path.join(secretsDir, 'chap', name), value + '\n', { mode: 0o600 });
    }
    const backingFile = path.join(dir, 'rootfs');
    await writeFile(backingFile, randomBytes(sizeBytes));
    await chmod(backingFile, 0o444);
    spec = {
      identity: printableNaaIdentity(),
      placement: { layout: 'per-image', targetIqn },
      backingFile,
      sizeBytes,
      initiators: [allowed],
      chap: { userRef: 'chap/user', secretRef: 'chap/password', mutual: { userRef: 'chap/mutual-user', secretRef: 'chap/mutual-password' } },
    };
    for (const controlPort of [20, 21]) {
      const tgtd = await startTgtd(controlPort);
      const name = `export-test-${controlPort}`;
      const recordFile = path.join(dir, `record-${controlPort}.json`);
      servers.push({ name, tgtd, driver: createTgtDriver({ server: name, controlPort, runner: localRunner(), secrets: fileSecretResolver(secretsDir), recordFile }) });
    }
  });

  afterAll(async () => {
    for (const { tgtd } of servers) await tgtd.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const portalOf = (tgtd: PrivateTgtd) => ({ address: tgtd.address, port: tgtd.port });
  const lunOf = (server: (typeof servers)[number], lun: number) => ({ ...portalOf(server.tgtd), iqn: targetIqn, lun });

  it('exports on both servers; an allowed initiator with CHAP reads a read-only LUN with the marshal identity', async () => {
    for (const server of servers) {
      const result = await server.driver.ensureExport({ ...spec, portals: [portalOf(server.tgtd)] });
      expect(result).toMatchObject({ server: server.name, layout: 'per-image', iqn: targetIqn, lun: 1, created: true, serial: spec.identity.serial, wwid: spec.identity.wwid });
      expect(result.changes.length).toBeGreaterThan(0);

      expect(await discover(portalOf(server.tgtd), login)).toEqual([targetIqn]);
      const lun = lunOf(server, result.lun);
      expect(await readCapacity(lun, login)).toBe(sizeBytes);
      const id = await identify(lun, login);
      expect(id.serial).toBe(spec.identity.serial);
      expect(id.product).toBe(spec.identity.backstoreName);
      expect('3' + id.naa).toBe(spec.identity.wwid);
      expect(spec.identity.wwid).toMatch(/^36001405[0-9a-f]{25}$/);
    }
  });

  it('refuses a write', async () => {
    const [server] = servers;
    const lun = (await server.driver.listExports()).find((l) => l.serial === spec.identity.serial)!;
    expect(lun.readonly).toBe(true);
    const write = await tryWrite(lunOf(server, lun.lun), login);
    expect(write.ok, write.output).toBe(false);
    expect(write.output).toMatch(/write protected/); // the WP bit tgtd reports in MODE SENSE for readonly=1
  });

  it('hides the target from an initiator outside the ACL and rejects its login', async () => {
    const [server] = servers;
    const outsider: Login = { initiator: stranger, chap: login.chap };
    expect(await discover(portalOf(server.tgtd), outsider)).toEqual([]);
    await expect(readCapacity(lunOf(server, 1), outsider)).rejects.toThrow(/Target not found/);
  });

  it('rejects a wrong CHAP password and no password', async () => {
    const [server] = servers;
    await expect(readCapacity(lunOf(server, 1), { initiator: allowed, chap: { user: chapUser, password: 'not-the-password' } })).rejects.toThrow(/Authentication failure/);
    await expect(readCapacity(lunOf(server, 1), { initiator: allowed })).rejects.toThrow(/Authentication failure/);
  });

  it('binds the mutual CHAP account as outgoing', async () => {
    const [target] = await showTargets(servers[0].tgtd.controlPort);
    expect(target.accounts).toEqual(expect.arrayContaining([{ user: chapUser, outgoing: false }, { user: 'target-user', outgoing: true }]));
  });

  it('changes nothing on a second run', async () => {
    for (const server of servers) {
      const before = await showTargets(server.tgtd.controlPort);
      const again = await server.driver.ensureExport({ ...spec, portals: [portalOf(server.tgtd)] });
      expect(again.created).toBe(false);
      expect(again.changes).toEqual([]);
      expect(await showTargets(server.tgtd.controlPort)).toEqual(before);
    }
  });

  it('an open sbps export beside it opens only itself, on the shared target, at the LUN its digest asks for', async () => {
    const server = servers[1];
    const open = { ...spec, identity: printableNaaIdentity(), placement: { layout: 'sbps' as const }, initiators: 'generate-node-acls' as const, chap: undefined };
    const before = (await showTargets(server.tgtd.controlPort)).find((t) => t.iqn === targetIqn);
    const result = await server.driver.ensureExport({ ...open, portals: [portalOf(server.tgtd)] });
    expect(result).toMatchObject({ layout: 'sbps', iqn: marshalTargetIqn(server.name), lun: preferredSbpsLun(open.identity) });
    const outsider: Login = { initiator: stranger };
    expect(await discover(portalOf(server.tgtd), outsider)).toEqual([marshalTargetIqn(server.name)]);
    expect(await readCapacity({ ...portalOf(server.tgtd), iqn: marshalTargetIqn(server.name), lun: result.lun }, outsider)).toBe(sizeBytes);
    await expect(readCapacity(lunOf(server, 1), { ...outsider, chap: login.chap })).rejects.toThrow(/Target not found/);
    expect((await showTargets(server.tgtd.controlPort)).find((t) => t.iqn === targetIqn)).toEqual(before);
    await server.driver.removeExport({ identity: open.identity });
    expect((await showTargets(server.tgtd.controlPort)).find((t) => t.iqn === targetIqn)).toEqual(before);
  });

  it('refuses a second artifact on the per-image target of another', async () => {
    const other = { ...spec, identity: printableNaaIdentity() };
    await expect(servers[0].driver.ensureExport({ ...other, portals: [] })).rejects.toMatchObject({ type: 'InvalidInput', message: expect.stringMatching(/already exports another artifact/) });
  });

  it('refuses to export a file whose size is not the artifact size', async () => {
    const server = servers[0];
    const partial = { ...spec, identity: lunIdentity({ linkPath: 's3://boot-images/x/rootfs', linkEtag: 'partial' }), placement: { layout: 'sbps' as const }, initiators: 'generate-node-acls' as const, chap: undefined, sizeBytes: sizeBytes + 512 };
    await expect(server.driver.ensureExport({ ...partial, portals: [] })).rejects.toMatchObject({ type: 'StagedFileCorrupt' });
  });

  it('removes the export, then the empty target; removing again is a no-op', async () => {
    for (const server of servers) {
      const removed = await server.driver.removeExport({ identity: spec.identity });
      expect(removed.removed).toBe(true);
      expect(await server.driver.listExports()).toEqual([]);
      expect(await showTargets(server.tgtd.controlPort)).toEqual([]);
      const accounts = await execa('tgtadm', ['-C', String(server.tgtd.controlPort), '--lld', 'iscsi', '--op', 'show', '--mode', 'account']);
      expect(parseAccounts(accounts.stdout)).toEqual([]);
      expect(await server.driver.removeExport({ identity: spec.identity })).toMatchObject({ removed: false, changes: [] });
    }
  });
});
