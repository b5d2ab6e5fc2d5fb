// Several images exported from the same servers (real tgtd on 127.0.0.22/.23, libiscsi initiators):
// each per-image export keeps its own ACLs and CHAP, an open sbps export opens nothing else, removing
// one export leaves the others exactly as they were, and a restarted tgtd gets every export back at
// the same target, LUN and WWID from the agent's record.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { localRunner } from '../../activities/export/commandRunner';
import type { ExportSpec, TargetDriver } from '../../activities/export/driver';
import { fileSecretResolver } from '../../activities/export/secrets';
import { createTgtDriver } from '../../activities/tgt/driver';
import { parseAccounts, showTargets } from '../../activities/tgt/tgtadm';
import { preferredSbpsLun } from '../../lib/exportLayout';
import { marshalTargetIqn } from '../../lib/lunIdentity';
import { startTgtd, type PrivateTgtd } from './helpers/tgtd';
import { discover, identify, readCapacity, type Login } from './helpers/initiator';
import { printableNaaIdentity } from './helpers/identities';

const run = randomUUID().slice(0, 8);
const node = (name: string) => `iqn.2026-11.test.isolation:${run}-${name}`;
const sizeBytes = 2 * 1024 * 1024;

describe('export isolation between images on shared tgtd servers', () => {
  let dir: string;
  let backingFile: string;
  const servers: { name: string; tgtd: PrivateTgtd; driver: TargetDriver; recordFile: string }[] = [];
  const secrets: Record<string, string> = {
    'a/user': `a-${run}`,
    'a/password': randomBytes(9).toString('base64url'),
    'b/user': `b-${run}`,
    'b/password': randomBytes(9).toString('base64url'),
    'clash/password': randomBytes(9).toString('base64url'),
  };
  const loginA: Login = { initiator: node('a'), chap: { user: secrets['a/user'], password: secrets['a/password'] } };
  const loginB: Login = { initiator: node('b'), chap: { user: secrets['b/user'], password: secrets['b/password'] } };
  const stranger: Login = { initiator: node('stranger') };
  let imageA: Omit<ExportSpec, 'portals'>;
  let imageB: Omit<ExportSpec, 'portals'>;
  let open: Omit<ExportSpec, 'portals'>;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'isolation-'));
    for (const [ref, value] of Object.entries(secrets)) {
      await mkdir(path.join(dir, 'secrets', path.dirname(ref)), { recursive: true, mode: 0o700 });
      await writeFile(path.join(dir, 'secrets', ref), value, { mode: 0o600 });
    }
    backingFile = path.join(dir, 'rootfs');
    await writeFile(backingFile, randomBytes(sizeBytes));
    await chmod(backingFile, 0o444);
    const base = { backingFile, sizeBytes };
    imageA = { ...base, identity: printableNaaIdentity(), placement: { layout: 'per-image', targetIqn: `iqn.2026-11.test.isolation:${run}.image-a` }, initiators: [node('a')], chap: { userRef: 'a/user', secretRef: 'a/password' } };
    imageB = { ...base, identity: printableNaaIdentity(), placement: { layout: 'per-image', targetIqn: `iqn.2026-11.test.isolation:${run}.image-b` }, initiators: [node('b')], chap: { userRef: 'b/user', secretRef: 'b/password' } };
    open = { ...base, identity: printableNaaIdentity(), placement: { layout: 'sbps' }, initiators: 'generate-node-acls' };
    for (const controlPort of [22, 23]) {
      const tgtd = await startTgtd(controlPort);
      const name = `isolation-${controlPort}`;
      const recordFile = path.join(dir, `record-${controlPort}.json`);
      servers.push({ name, tgtd, recordFile, driver: createTgtDriver({ server: name, controlPort, runner: localRunner(), secrets: fileSecretResolver(path.join(dir, 'secrets')), recordFile }) });
    }
  });
  afterAll(async () => {
    for (const { tgtd } of servers) await tgtd.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const portal = (server: (typeof servers)[number]) => ({ address: server.tgtd.address, port: server.tgtd.port });
  const exportAll = async (server: (typeof servers)[number], images: Omit<ExportSpec, 'portals'>[]) => {
    const results = [];
    for (const image of images) results.push(await server.driver.ensureExport({ ...image, portals: [portal(server)] }));
    return results;
  };
  const targetOf = async (server: (typeof servers)[number], iqn: string) => (await showTargets(server.tgtd.controlPort)).find((t) => t.iqn === iqn);

  it('each node sees and logs in to its own image only, with its own secret only; the open export is all a stranger sees', async () => {
    for (const server of servers) {
      const [a, b, shared] = await exportAll(server, [imageA, imageB, open]);
      expect([a.layout, a.iqn, a.lun, b.iqn, b.lun]).toEqual(['per-image', imageA.placement.layout === 'per-image' && imageA.placement.targetIqn, 1, imageB.placement.layout === 'per-image' && imageB.placement.targetIqn, 1]);
      expect(shared).toMatchObject({ layout: 'sbps', iqn: marshalTargetIqn(server.name), lun: preferredSbpsLun(open.identity) });

      expect((await discover(portal(server), loginA)).sort()).toEqual([a.iqn, shared.iqn].sort());
      expect((await discover(portal(server), loginB)).sort()).toEqual([b.iqn, shared.iqn].sort());
      expect(await discover(portal(server), stranger)).toEqual([shared.iqn]);

      const lunA = { ...portal(server), iqn: a.iqn, lun: a.lun };
      const lunB = { ...portal(server), iqn: b.iqn, lun: b.lun };
      expect((await identify(lunA, loginA)).serial).toBe(imageA.identity.serial);
      expect((await identify(lunB, loginB)).serial).toBe(imageB.identity.serial);
      await expect(readCapacity(lunA, { initiator: node('a'), chap: loginB.chap })).rejects.toThrow(/Authentication failure/);
      await expect(readCapacity(lunB, { initiator: node('b'), chap: loginA.chap })).rejects.toThrow(/Authentication failure/);
      await expect(readCapacity(lunB, loginA)).rejects.toThrow(/Target not found/);
      await expect(readCapacity(lunA, loginB)).rejects.toThrow(/Target not found/);
      await expect(readCapacity(lunA, { ...stranger, chap: loginA.chap })).rejects.toThrow(/Target not found/);
      expect(await readCapacity({ ...portal(server), iqn: shared.iqn, lun: shared.lun }, stranger)).toBe(sizeBytes);
    }
  });

  it('refuses an export that would change the password of an account another image uses, and A still opens with its own', async () => {
    const [server] = servers;
    const clash = { ...imageB, identity: printableNaaIdentity(), placement: { layout: 'per-image' as const, targetIqn: `iqn.2026-11.test.isolation:${run}.clash` }, chap: { userRef: 'a/user', secretRef: 'clash/password' } };
    await expect(server.driver.ensureExport({ ...clash, portals: [] })).rejects.toMatchObject({ type: 'InvalidInput', message: expect.stringMatching(/already exists on .* with another password/) });
    expect(await targetOf(server, clash.placement.targetIqn)).toBeUndefined();
    expect(await readCapacity({ ...portal(server), iqn: `iqn.2026-11.test.isolation:${run}.image-a`, lun: 1 }, loginA)).toBe(sizeBytes);
  });

  it('removing B leaves A and the open export exactly as they were (ACLs, accounts, LUN)', async () => {
    for (const server of servers) {
      const iqnA = `iqn.2026-11.test.isolation:${run}.image-a`;
      const before = { a: await targetOf(server, iqnA), shared: await targetOf(server, marshalTargetIqn(server.name)) };
      const removed = await server.driver.removeExport({ identity: imageB.identity });
      expect(removed.changes).toEqual(expect.arrayContaining([expect.stringMatching(/deleted target .*image-b/), 'deleted a CHAP account no export uses']));
      expect({ a: await targetOf(server, iqnA), shared: await targetOf(server, marshalTargetIqn(server.name)) }).toEqual(before);
      const accounts = parseAccounts((await execa('tgtadm', ['-C', String(server.tgtd.controlPort), '--lld', 'iscsi', '--op', 'show', '--mode', 'account'])).stdout);
      expect(accounts).toContain(secrets['a/user']);
      expect(accounts).not.toContain(secrets['b/user']);
      expect((await identify({ ...portal(server), iqn: iqnA, lun: 1 }, loginA)).serial).toBe(imageA.identity.serial);
    }
  });

  it('LUNs are a function of the image: three sbps images, the middle one removed, tgtd restarted and restored from the record', async () => {
    const [first, second] = servers;
    const images: Omit<ExportSpec, 'portals'>[] = [];
    for (let i = 0; i < 3; i++) images.push({ ...open, identity: printableNaaIdentity([preferredSbpsLun(open.identity), ...images.map((x) => preferredSbpsLun(x.identity))]) });
    const inOrder = await exportAll(first, images);
    const reversed = (await exportAll(second, [...images].reverse())).reverse();
    expect(reversed.map((r) => r.lun)).toEqual(inOrder.map((r) => r.lun));
    expect(inOrder.map((r) => r.lun)).toEqual(images.map((x) => preferredSbpsLun(x.identity)));

    await first.driver.removeExport({ identity: images[1].identity });
    const before = await showTargets(first.tgtd.controlPort);
    await first.tgtd.stop();
    first.tgtd = await startTgtd(22);
    expect(await showTargets(first.tgtd.controlPort)).toEqual([]);
    const restored = await first.driver.restoreConfig();
    expect(restored.failed).toEqual([]);
    expect(restored.restored.length).toBe(before.flatMap((t) => t.luns.filter((l) => l.type === 'disk')).length);
    const after = await showTargets(first.tgtd.controlPort);
    const luns = (targets: typeof after) => targets.map((t) => ({ iqn: t.iqn, luns: t.luns.filter((l) => l.type === 'disk').map((l) => [l.lun, l.serial, l.scsiId, l.readonly]), acls: t.acls, accounts: t.accounts })).sort((x, y) => x.iqn.localeCompare(y.iqn));
    expect(luns(after)).toEqual(luns(before));
    for (const index of [0, 2]) {
      const seen = await identify({ ...portal(first), iqn: marshalTargetIqn(first.name), lun: inOrder[index].lun }, stranger);
      expect(seen.serial).toBe(images[index].identity.serial);
    }
    expect((await identify({ ...portal(first), iqn: `iqn.2026-11.test.isolation:${run}.image-a`, lun: 1 }, loginA)).serial).toBe(imageA.identity.serial);
  });
});
