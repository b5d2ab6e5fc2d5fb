// The project's compute-node initramfs (node/initramfs) refuses a LUN of another identity: on Debian's
// kernel in a guest, with DHCP on QEMU's user network, it gets its CHAP credentials pushed over SSH, logs in
// to two host tgtd exporting one LUKS2 image, finds no multipath map for the WWID its command line names,
// prints one FAILED line naming the WWIDs it did find, and drops to a shell (no key is ever asked for).
// The whole boot, from a lifecycle's BSS entry to the booted image, is imageBoot.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeSampleImage } from '../../dev/sampleImage';
import { localRunner, sshRunner } from '../../activities/export/commandRunner';
import { fileSecretResolver } from '../../activities/export/secrets';
import { createFileKeyStore } from '../../activities/keys/fileKeyStore';
import { createLuksActivities } from '../../activities/luks/activities';
import { pushChap } from '../../activities/node/attach';
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
const chap = { ref: 'chap/nb-node', user: `nb-node-${run}`, password: randomBytes(12).toString('base64url') };
/** Each host tgtd and the address the node reaches it at (a guestfwd). */
const portals = [
  { address: '127.0.0.48', controlPort: 48, guestAddress: '10.0.2.100' },
  { address: '127.0.0.49', controlPort: 49, guestAddress: '10.0.2.101' },
];

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

describe('the project initramfs on a node', () => {
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
    const sample = await makeSampleImage(path.join(workDir, 'sample'), { payloadMiB: 1, label: `nb-${run}` });
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

  /** Boots the node on its BSS-style command line (lib/bootParams.ts) and pushes its CHAP credentials, as attach does. */
  async function bootNode(wwid: string, stateName: string): Promise<Guest> {
    // No bootimg.net=: the default, DHCP on eth0 (QEMU's user network answers it).
    const site = `console=ttyS0 bootimg.iscsi.initiator=${nodeIqn}`;
    const params = rewriteBootFields({ kernel: '', initrd: '', params: site }, {
      image: { manifestPath: '', kernel: '', initrd: '', rootfs: { path: identity.linkPath, etag: identity.linkEtag } },
      iscsi: { targets: portals.map((p) => ({ iqn: targetIqn, address: p.guestAddress, port: 3260 })), chapRef: chap.ref, lunWwid: wwid, luksKeyRef: keyId },
    }).entry.params;
    console.log(`node kernel command line: ${params}`);
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
    await pushChap(sshRunner(guest.sshDestination, guest.sshOptions), chap.ref, chap);
    return guest;
  }

  test('refuses a LUN of another identity: one FAILED line naming the WWIDs found, then a shell', async () => {
    const wrong = lunIdentity({ linkPath: `s3://boot-images/nb-${run}/other`, linkEtag: identity.linkEtag }).wwid;
    const guest = await bootNode(wrong, 'nb-node-wrong-wwid');
    try {
      const failed = await consoleLine(guest, /^bootimg: FAILED: /, 300);
      expect(fs.readFileSync(guest.consoleLog, 'utf8')).toMatch(/^bootimg: \[[\d.]+\] network up: 10\.0\.2\.15\/24 on eth0$/m);
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

});
