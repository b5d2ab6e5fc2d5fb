// A compute node boots the image from our boot parameters (issue 17, node side): the project's initramfs
// (node/initramfs) on Debian's kernel in a guest logs in with CHAP to two host tgtd exporting one LUKS2
// image with the same identity, gets the CHAP credentials and the key pushed over SSH into /dev/shm
// (activities/node/attach.ts, what the attach phase will run), assembles one multipath map with two paths,
// opens LUKS read-only, mounts the squashfs under a tmpfs overlay and switches root into the image, whose
// init prints the marker. Then one tgtd stops while the booted system reads, and every read is right.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeSampleImage } from '../../dev/sampleImage';
import { localRunner, sshRunner } from '../../activities/export/commandRunner';
import { fileSecretResolver } from '../../activities/export/secrets';
import { createFileKeyStore } from '../../activities/keys/fileKeyStore';
import { createLuksActivities } from '../../activities/luks/activities';
import { pushChap, pushKey } from '../../activities/node/attach';
import { createTgtDriver } from '../../activities/tgt/driver';
import { paramTokens, rewriteBootFields } from '../../lib/bootParams';
import { lunIdentity, type LunIdentity } from '../../lib/lunIdentity';
import { buildNodeInitramfs } from '../../node/initramfs/build';
import { startGuest, type Guest } from './guest';
import { findKernel, vmDir } from './hostTools';
import { startHostTgtd, type HostTgtd } from './hostTgtd';
import { harnessKeys } from './sshKeys';

const run = randomUUID().slice(0, 6);
const workDir = path.join(vmDir, 'node-boot');
const nodeIqn = 'iqn.2024-01.org.vm-tier:nb-node';
const marker = { path: '/etc/boot-image-marker', content: `customized by run ${run}` };
const chap = { ref: 'chap/nb-node', user: `nb-node-${run}`, password: randomBytes(12).toString('base64url') };
/** Each host tgtd and the address the node reaches it at (a guestfwd). */
const portals = [
  { address: '127.0.0.48', controlPort: 48, guestAddress: '10.0.2.100' },
  { address: '127.0.0.49', controlPort: 49, guestAddress: '10.0.2.101' },
];
const readPasses = 14;

/** Resolves when the console shows a line matching `pattern`; rejects past the deadline. */
async function consoleLine(guest: Guest, pattern: RegExp, seconds: number): Promise<string> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const line = fs.readFileSync(guest.consoleLog, 'utf8').split(/\r?\n/).find((l) => pattern.test(l));
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`console of ${guest.name}: no line matching ${pattern} within ${seconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

describe('a compute node boots the image with the project initramfs', () => {
  const servers: HostTgtd[] = [];
  const guests: Guest[] = [];
  const keyStore = createFileKeyStore(path.join(workDir, 'keys'));
  let identity: LunIdentity;
  let targetIqn: string;
  let keyId: string;
  let initrd: string;

  beforeAll(async () => {
    fs.rmSync(workDir, { recursive: true, force: true });
    const secretsDir = path.join(workDir, 'secrets');
    fs.mkdirSync(path.join(secretsDir, 'chap'), { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(secretsDir, 'chap/user'), chap.user, { mode: 0o600 });
    fs.writeFileSync(path.join(secretsDir, 'chap/password'), chap.password, { mode: 0o600 });
    const sample = await makeSampleImage(path.join(workDir, 'sample'), { payloadMiB: 4, label: `nb-${run}`, files: { [marker.path]: marker.content }, userland: { report: [marker.path] } });
    // PBKDF2 with few iterations: Argon2id takes ~20 s and ~700 MiB per key check under emulation.
    const luks = createLuksActivities({ keyStore, workDir: path.join(workDir, 'luks'), pbkdf: { pbkdf2Iterations: 1000 } });
    const container = path.join(workDir, 'rootfs.luks');
    keyId = (await luks.encryptFile({ source: sample.rootfs, destination: container, luksVersion: 2 })).keyId;
    fs.chmodSync(container, 0o444);

    identity = lunIdentity({ linkPath: `s3://boot-images/nb-${run}/rootfs`, linkEtag: randomBytes(16).toString('hex') });
    targetIqn = `iqn.2024-01.org.vm-tier:node-boot-${identity.backstoreName}`;
    for (const portal of portals) {
      servers.push(await startHostTgtd(portal));
      const driver = createTgtDriver({ server: `nb-tgt${portal.controlPort}`, controlPort: portal.controlPort, runner: localRunner(), secrets: fileSecretResolver(secretsDir), recordFile: path.join(workDir, `tgt${portal.controlPort}.json`) });
      await driver.ensureExport({
        identity,
        placement: { layout: 'per-image', targetIqn },
        backingFile: container,
        sizeBytes: fs.statSync(container).size,
        initiators: [nodeIqn],
        chap: { userRef: 'chap/user', secretRef: 'chap/password' },
        portals: [{ address: portal.address, port: 3260 }],
      });
    }
    initrd = (await buildNodeInitramfs({ kernelVersion: findKernel().version, authorizedKeys: (await harnessKeys()).publicKey, output: path.join(workDir, 'node-initramfs.cpio') })).output;
  });

  afterAll(async () => {
    for (const guest of guests) await guest.stop();
    for (const server of servers) await server.stop();
  });

  /** Boots the node on its BSS-style command line (lib/bootParams.ts) and pushes its CHAP credentials, as attach will. */
  async function bootNode(wwid: string, stateName: string): Promise<{ guest: Guest; sshAnswered: number; started: number }> {
    const site = `console=ttyS0 bootimg.iscsi.initiator=${nodeIqn} bootimg.net=eth0:10.0.2.15/24:10.0.2.2 sample.read_passes=${readPasses}`;
    const params = rewriteBootFields({ kernel: '', initrd: '', params: site }, {
      image: { manifestPath: '', kernel: '', initrd: '', rootfs: { path: identity.linkPath, etag: identity.linkEtag } },
      iscsi: { targets: portals.map((p) => ({ iqn: targetIqn, address: p.guestAddress, port: 3260 })), chapRef: chap.ref, lunWwid: wwid, luksKeyRef: keyId },
    }).entry.params;
    console.log(`node kernel command line: ${params}`);
    const started = performance.now();
    const guest = await startGuest({
      name: 'nb-node',
      role: 'node',
      initrd,
      stateDir: path.join(workDir, stateName),
      ssh: { address: '127.0.0.39', port: 2222 },
      guestForwards: portals.map((p) => ({ guestAddress: p.guestAddress, guestPort: 3260, hostAddress: p.address, hostPort: 3260 })),
      kernelArgs: paramTokens(params).filter((token) => token !== 'console=ttyS0'),
      bootTimeoutMs: 600_000,
    });
    guests.push(guest);
    const sshAnswered = (performance.now() - started) / 1000;
    await pushChap(sshRunner(guest.sshDestination, guest.sshOptions), chap.ref, chap);
    return { guest, sshAnswered, started };
  }

  test('refuses a LUN of another identity: one FAILED line naming the WWIDs found, then a shell', async () => {
    const wrong = lunIdentity({ linkPath: `s3://boot-images/nb-${run}/other`, linkEtag: identity.linkEtag }).wwid;
    const { guest } = await bootNode(wrong, 'nb-node-wrong-wwid');
    try {
      const failed = await consoleLine(guest, /^bootimg: FAILED: /, 300);
      expect(failed).toBe(`bootimg: FAILED: no multipath map for WWID ${wrong} within 60 s (the iSCSI disks are: sda=${identity.wwid} sdb=${identity.wwid})`);
      await consoleLine(guest, /^bootimg: dropping to a shell/, 30);
      expect(fs.readFileSync(guest.consoleLog, 'utf8')).not.toMatch(/waiting for the LUKS key/);
      // The trapped node still answers SSH, as DisklessTrap's does: an administrator looks, then powers it off.
      expect((await guest.run(['cat', '/etc/multipath.conf'])).stdout).toContain(`wwid "^${wrong}$"`);
      await guest.run(['poweroff', '-f']).catch(() => undefined);
      expect(await guest.poweredOff(60_000)).toBe(true);
    } finally {
      await guest.stop();
    }
  });

  test('both portals with CHAP, two multipath paths, dm-crypt, squashfs under an overlay, root switched, the marker read; one portal stops and reads go on', async () => {
    const { guest, sshAnswered, started } = await bootNode(identity.wwid, 'nb-node');
    try {
      const key = await keyStore.getKey(keyId);
      await pushKey(sshRunner(guest.sshDestination, guest.sshOptions), keyId, key);

      await consoleLine(guest, /^bootimg: .* switching root/, 600);
      const switched = (performance.now() - started) / 1000;
      await consoleLine(guest, /^sample-init: read pass 2:/, 600);
      await servers[1].stop();
      const stopped = (performance.now() - started) / 1000;
      expect(await guest.poweredOff(600_000)).toBe(true);
      const total = (performance.now() - started) / 1000;

      const log = fs.readFileSync(guest.consoleLog, 'utf8');
      const lines = log.split('\n').filter((line) => /^(bootimg|sample-init): /.test(line));
      console.log(`node console (bootimg and sample-init lines):\n${lines.join('\n')}`);
      console.log(`wall time: SSH answered in the initramfs ${sshAnswered.toFixed(1)} s, root switched ${switched.toFixed(1)} s, portal ${portals[1].address} stopped at ${stopped.toFixed(1)} s, powered off at ${total.toFixed(1)} s`);

      expect(log).not.toMatch(/^bootimg: (FAILED|WARNING)/m);
      for (const portal of portals) expect(log).toContain(`logged in to ${targetIqn} at ${portal.guestAddress}:3260`);
      expect(log).toContain(`CHAP credentials for ${chap.user} received, file removed`);
      expect(log).toMatch(new RegExp(`multipath map ${identity.wwid}: 2 active paths`));
      expect(log).toMatch(/dm-crypt open: type: LUKS2 cipher: aes-xts-plain64 mode: readonly/);
      expect(log).toContain(`key file /dev/shm/${keyId} removed`);
      expect(log).toContain('squashfs mounted read-only');
      expect(log).toContain("switching root to the image's /sbin/init");
      expect(log).toContain('sample-init: running from the image as PID 1');
      expect(log).toContain(`sample-init: ${marker.path}: ${marker.content}`);
      expect(log).toMatch(/^sample-init: root: overlay overlay \S*lowerdir=\/bootimg\/lower/m);
      expect(log).toMatch(/^sample-init: device-mapper bootimg-root \(CRYPT-LUKS2-/m);
      expect(log).toMatch(/^sample-init: storage daemons still running: iscsid multipathd $/m);
      const passes = lines.filter((line) => line.startsWith('sample-init: read pass '));
      expect(passes).toHaveLength(readPasses);
      expect(passes.every((line) => / ok /.test(line))).toBe(true);
      // Secrets reach the node through stdin only: never its console.
      expect(log).not.toContain(chap.password);
      expect(log).not.toContain(key.toString('latin1'));
    } finally {
      await guest.stop();
    }
  });
});
