// The VM tier's harness, proven on the real kernel paths: a LIO target in a guest that the host's
// libiscsi reaches and that a reboot restores, and a compute-node guest that logs in to tgtd portals on
// the host with open-iscsi, builds one multipath map over them and opens a LUKS2 container with dm-crypt.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, test } from 'vitest';
import { tgtScsiId } from '../../activities/tgt/driver';
import { tgtadm } from '../../activities/tgt/tgtadm';
import { CommandFailed } from '../../activities/export/commandRunner';
import { lunIdentity } from '../../lib/lunIdentity';
import { startGuest, type Guest } from './guest';
import { vmDir } from './hostTools';
import { startHostTgtd, type HostTgtd } from './hostTgtd';

const workDir = path.join(vmDir, 'harness-test');
const freshDir = (name: string) => {
  const dir = path.join(workDir, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
};

const bootTimes: string[] = [];
const recordBoot = (guest: Guest, what: string) => {
  bootTimes.push(`${what}: ${guest.bootSeconds.toFixed(1)} s`);
  console.log(`VM boot ${what}: ${guest.bootSeconds.toFixed(1)} s`);
};
afterAll(() => console.log(`VM boot times (QEMU start to SSH answering): ${bootTimes.join('; ')}`));

async function waitFor<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${seconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

describe('a LIO target in a guest', () => {
  const iqn = 'iqn.2003-01.org.linux-iscsi.vm-lio:harness';
  const portal = { address: '127.0.0.40', port: 3260 };

  test('exports a fileio LUN that the host reaches, and restores it from saveconfig.json after a reboot', async () => {
    const guest = await startGuest({
      name: 'vm-lio',
      role: 'lio',
      stateDir: freshDir('vm-lio'),
      ssh: { address: '127.0.0.40', port: 2222 },
      hostForwards: [{ ...portal, guestPort: 3260 }],
    });
    try {
      recordBoot(guest, 'lio guest');
      const targetcli = (...args: string[]) => guest.run(['targetcli', ...args]);
      await guest.run(['truncate', '-s', '64M', '/vm-state/staging/harness.img']);
      await targetcli('/backstores/fileio', 'create', 'name=harness', 'file_or_dev=/vm-state/staging/harness.img', 'wwn=0123456789abcdef0123456789abcde');
      await targetcli('/iscsi', 'create', iqn);
      await targetcli(`/iscsi/${iqn}/tpg1/luns`, 'create', '/backstores/fileio/harness');
      await targetcli(`/iscsi/${iqn}/tpg1`, 'set', 'attribute', 'generate_node_acls=1', 'demo_mode_write_protect=1', 'authentication=0');
      await targetcli('saveconfig');

      const url = `iscsi://${portal.address}:${portal.port}/${iqn}/0`;
      const lunFromHost = async () => ({
        capacity: (await execa('iscsi-readcapacity16', [url])).stdout,
        serial: (await execa('iscsi-inq', ['-e', '1', '-c', '128', url])).stdout,
      });
      expect((await execa('iscsi-ls', [`iscsi://${portal.address}:${portal.port}`])).stdout).toContain(iqn);
      const before = await lunFromHost();
      expect(before.capacity).toMatch(/Total size:\s*67108864\b/);
      expect(before.serial).toContain('0123456789abcdef0123456789abcde');

      await guest.reboot();
      recordBoot(guest, 'lio guest, reboot');
      expect(fs.readFileSync(guest.consoleLog, 'utf8')).toContain('LIO configuration restored');
      expect(await lunFromHost()).toEqual(before);
    } finally {
      await guest.stop();
    }
  });
});

describe('a compute-node guest', () => {
  const iqn = 'iqn.2024-01.org.vm-tier:harness-tgt';
  const identity = lunIdentity({ linkPath: 's3://boot-images/vm-harness/rootfs', linkEtag: '0123456789abcdef0123456789abcdef' });
  // Two host tgtd export the same file with the same identity: two paths to one WWID, as two iSCSI servers
  // exporting one image do. The guest reaches each through its own guestfwd address.
  const portals = [
    { address: '127.0.0.45', controlPort: 45, guestAddress: '10.0.2.100' },
    { address: '127.0.0.46', controlPort: 46, guestAddress: '10.0.2.101' },
  ];

  test('logs in over both portals, builds one multipath map with two paths, opens LUKS2 read-only, and closes it all', async () => {
    const dir = freshDir('vm-node');
    const image = path.join(dir, 'luks.img');
    const key = 'vm-tier harness key';
    fs.writeFileSync(path.join(dir, 'key'), key, { mode: 0o600 });
    await execa('truncate', ['-s', '32M', image]);
    // PBKDF2 with few iterations: the default Argon2id takes ~20 s under emulation and ~700 MiB of guest memory.
    await execa('cryptsetup', ['luksFormat', '--batch-mode', '--type', 'luks2', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file', path.join(dir, 'key'), image]);
    const luksUuid = (await execa('cryptsetup', ['luksUUID', image])).stdout.trim();

    const servers: HostTgtd[] = [];
    let guest: Guest | undefined;
    try {
      for (const portal of portals) {
        const server = await startHostTgtd(portal);
        servers.push(server);
        const lun = ['--tid', '1', '--lun', '1'];
        await tgtadm(portal.controlPort, ['--op', 'new', '--mode', 'target', '--tid', '1', '--targetname', iqn]);
        await tgtadm(portal.controlPort, ['--op', 'new', '--mode', 'logicalunit', ...lun, '--backing-store', image, '--bstype', 'rdwr']);
        await tgtadm(portal.controlPort, ['--op', 'update', '--mode', 'logicalunit', ...lun, '--params', `readonly=1,scsi_sn=${identity.serial},scsi_id=${tgtScsiId(identity)}`]);
        await tgtadm(portal.controlPort, ['--op', 'bind', '--mode', 'target', '--tid', '1', '--initiator-address', 'ALL']);
      }
      guest = await startGuest({
        name: 'vm-node',
        role: 'node',
        stateDir: path.join(dir, 'state'),
        ssh: { address: '127.0.0.41', port: 2222 },
        guestForwards: portals.map((p) => ({ guestAddress: p.guestAddress, guestPort: 3260, hostAddress: p.address, hostPort: 3260 })),
      });
      recordBoot(guest, 'node guest');
      const node = guest;

      try {
        for (const portal of portals) {
          const forwarded = `${portal.guestAddress}:3260`;
          expect((await node.run(['iscsiadm', '-m', 'discovery', '-t', 'sendtargets', '-p', forwarded])).stdout).toContain(`${portal.address}:3260,1 ${iqn}`);
          // Discovery records the portal as the host knows it, which the guest cannot reach: log in to the forwarded one.
          await node.run(['iscsiadm', '-m', 'node', '-T', iqn, '-p', `${portal.address}:3260`, '-o', 'delete']);
          await node.run(['iscsiadm', '-m', 'node', '-T', iqn, '-p', forwarded, '-o', 'new']);
          await node.run(['iscsiadm', '-m', 'node', '-T', iqn, '-p', forwarded, '--login']);
        }
        const map = await waitFor(`a multipath map for ${identity.wwid} with ${portals.length} active paths`, 60, async () => {
          await node.run(['udevadm', 'settle', '--timeout=30']);
          const listed = await node.run(['multipath', '-ll', identity.wwid]).catch(() => ({ stdout: '' }));
          return (listed.stdout.match(/active ready running/g) ?? []).length === portals.length ? listed.stdout : undefined;
        });
        console.log(`multipath -ll ${identity.wwid}:\n${map}`);
        expect(map).toMatch(new RegExp(`^${identity.wwid} dm-\\d+ IET,VIRTUAL-DISK`, 'm'));
        expect(map).toContain('wp=ro');

        const device = `/dev/mapper/${identity.wwid}`;
        expect((await node.run(['cryptsetup', 'luksUUID', device])).stdout.trim()).toBe(luksUuid);
        await node.run(['sh', '-c', 'umask 077 && cat > /dev/shm/harness-key'], { input: key, secrets: [key] });
        await node.run(['cryptsetup', 'open', '--readonly', '--type', 'luks2', '--key-file', '/dev/shm/harness-key', device, 'harness-root']);
        await node.run(['rm', '/dev/shm/harness-key']);
        const status = (await node.run(['cryptsetup', 'status', 'harness-root'])).stdout;
        expect(status).toMatch(/type:\s+LUKS2/);
        expect(status).toMatch(/mode:\s+readonly/);
        expect(status).toContain(`device:  ${device}`);
      } finally {
        await node.run(['cryptsetup', 'close', 'harness-root']).catch(() => undefined);
        await node.run(['multipath', '-f', identity.wwid]).catch(() => undefined);
        for (const portal of portals) {
          await node.run(['iscsiadm', '-m', 'node', '-T', iqn, '-p', `${portal.guestAddress}:3260`, '--logout']).catch(() => undefined);
          await node.run(['iscsiadm', '-m', 'node', '-T', iqn, '-p', `${portal.guestAddress}:3260`, '-o', 'delete']).catch(() => undefined);
        }
      }
      // Everything the test opened is closed: no session, no device-mapper device.
      const sessions = await node.run(['iscsiadm', '-m', 'session']).catch((error: unknown) => error);
      expect(sessions instanceof CommandFailed && sessions.exitCode === 21).toBe(true);
      expect((await node.run(['dmsetup', 'ls'])).stdout.trim()).toBe('No devices found');
    } finally {
      await guest?.stop();
      for (const server of servers) await server.stop();
    }
  });
});
