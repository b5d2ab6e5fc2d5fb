// Records what open-iscsi, lsblk, multipath and cryptsetup print on a real compute node, as fixtures for
// the open-iscsi driver's parsers (test/initiator/openIscsiCaptured.test.ts). The production pair: one LUN,
// one identity, exported by the LIO driver from a guest and by the tgt driver from a host tgtd, each with
// an ACL for the node and CHAP; a node guest runs the project's open-iscsi driver against both and every
// command it sends is recorded verbatim (stdout, stderr, exit code). Then, by hand, both paths up and the
// host's portal stopped under them. Run: `tsx test/vm/captureOpenIscsiOutputs.ts` (README.md beside this).
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { CommandFailed, localRunner, shellQuote, sshRunner, type CommandRunner } from '../../activities/export/commandRunner';
import type { ExportSpec } from '../../activities/export/driver';
import type { SecretResolver } from '../../activities/export/secrets';
import type { NodeCheckContext, ServerTarget } from '../../activities/initiator/driver';
import { createOpenIscsiDriver } from '../../activities/initiator/openIscsiDriver';
import { createLioDriver, saveconfigPaths } from '../../activities/lio/driver';
import { createTgtDriver } from '../../activities/tgt/driver';
import { lunIdentity, type LunIdentity } from '../../lib/lunIdentity';
import { capturedDir, capturedExports } from '../initiator/fixtures/captured';
import { startGuest, type Guest } from './guest';
import { vmDir } from './hostTools';
import { startHostTgtd, type HostTgtd } from './hostTgtd';

const workDir = path.join(vmDir, 'capture-open-iscsi');
const nodeIqn = 'iqn.2024-01.org.vm-tier:capture-node';
const outsiderIqn = 'iqn.2024-01.org.vm-tier:capture-outsider';
const lioAddress = '127.0.0.43';
const tgtAddress = '127.0.0.47';
const tgtControlPort = 47;
/** How the node reaches each server: QEMU forwards these guest addresses to the host's portals. */
const nodePortals = { lio: '10.0.2.100', tgt: '10.0.2.101' };

interface Call {
  argv: string[];
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs argv on a guest over SSH like sshRunner, and keeps every command's stdout, stderr and exit code as printed. */
function recordingRunner(guest: Guest, calls: Call[]): CommandRunner {
  return {
    where: guest.sshDestination,
    async run(argv, options = {}) {
      const result = await execa('ssh', [...guest.sshOptions, guest.sshDestination, '--', argv.map(shellQuote).join(' ')], { input: options.input ?? '', reject: false, stripFinalNewline: false });
      const exitCode = result.exitCode ?? -1;
      calls.push({ argv, stdout: result.stdout, stderr: result.stderr, exitCode });
      if (exitCode !== 0) throw new CommandFailed(argv, exitCode, result.stderr || result.stdout, guest.sshDestination);
      return { stdout: result.stdout, stderr: result.stderr };
    },
  };
}

/** An image exported by both drivers: its identity, its own target, its ACL and CHAP. */
interface Export {
  identity: LunIdentity;
  targetIqn: string;
  file: string;
  sizeBytes: number;
  initiators: string[];
  chap: { user: string; password: string };
}

async function main() {
  fs.rmSync(workDir, { recursive: true, force: true });
  const dirs = { lio: path.join(workDir, 'lio'), node: path.join(workDir, 'node'), tgt: path.join(workDir, 'tgt') };
  for (const dir of Object.values(dirs)) fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync(path.join(dirs.lio, 'staging'), { recursive: true });

  // Throwaway secrets: none of them may appear in a fixture (checked before anything is written).
  const key = randomBytes(24).toString('base64url');
  const secretValues = { key, wrongKey: randomBytes(24).toString('base64url'), a: randomBytes(12).toString('base64url'), b: randomBytes(12).toString('base64url'), wrong: randomBytes(12).toString('base64url') };
  const keyFile = path.join(workDir, 'key');
  fs.writeFileSync(keyFile, key, { mode: 0o600 });

  const luks = path.join(dirs.tgt, 'a.luks');
  await execa('truncate', ['-s', '32M', luks]);
  // PBKDF2 with few iterations: the default Argon2id takes ~20 s and ~700 MiB under emulation.
  const { luksUuid } = capturedExports.a;
  await execa('cryptsetup', ['luksFormat', '--batch-mode', '--type', 'luks2', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--uuid', luksUuid, '--key-file', keyFile, luks]);
  const plain = path.join(dirs.tgt, 'b.img');
  await execa('truncate', ['-s', '4M', plain]);
  fs.copyFileSync(luks, path.join(dirs.lio, 'staging/a.luks'));
  fs.copyFileSync(plain, path.join(dirs.lio, 'staging/b.img'));

  const exports: Record<'a' | 'b', Export> = {
    // The node's image: its ACL and CHAP.
    a: { identity: lunIdentity(capturedExports.a.link), targetIqn: capturedExports.a.targetIqn, file: 'a.luks', sizeBytes: fs.statSync(luks).size, initiators: [nodeIqn], chap: { user: 'capture-a', password: secretValues.a } },
    // Another node's image: the node is outside its ACL (and knows its CHAP, so only the ACL refuses it).
    b: { identity: lunIdentity(capturedExports.b.link), targetIqn: capturedExports.b.targetIqn, file: 'b.img', sizeBytes: fs.statSync(plain).size, initiators: [outsiderIqn], chap: { user: 'capture-b', password: secretValues.b } },
  };
  const secretStore: Record<string, string> = { 'a/user': exports.a.chap.user, 'a/password': exports.a.chap.password, 'b/user': exports.b.chap.user, 'b/password': exports.b.chap.password };
  const secrets: SecretResolver = {
    async resolve(ref) {
      if (!(ref in secretStore)) throw new Error(`secret ${ref} not found`);
      return secretStore[ref];
    },
  };

  let tgtd: HostTgtd | undefined;
  let lio: Guest | undefined;
  let node: Guest | undefined;
  const started = performance.now();
  try {
    tgtd = await startHostTgtd({ address: tgtAddress, controlPort: tgtControlPort });
    const guests = await Promise.allSettled([
      startGuest({ name: 'capture-lio', role: 'lio', stateDir: dirs.lio, ssh: { address: lioAddress, port: 2222 }, hostForwards: [{ address: lioAddress, port: 3260, guestPort: 3260 }] }),
      startGuest({
        name: 'capture-node',
        role: 'node',
        stateDir: dirs.node,
        ssh: { address: '127.0.0.44', port: 2222 },
        initiatorName: nodeIqn,
        guestForwards: [
          { guestAddress: nodePortals.lio, guestPort: 3260, hostAddress: lioAddress, hostPort: 3260 },
          { guestAddress: nodePortals.tgt, guestPort: 3260, hostAddress: tgtAddress, hostPort: 3260 },
        ],
      }),
    ]);
    if (guests[0].status === 'fulfilled') lio = guests[0].value;
    if (guests[1].status === 'fulfilled') node = guests[1].value;
    for (const guest of guests) if (guest.status === 'rejected') throw guest.reason;
    console.log(`booted: lio ${lio!.bootSeconds.toFixed(1)} s, node ${node!.bootSeconds.toFixed(1)} s`);

    const lioDriver = createLioDriver({ server: 'capture-lio', runner: sshRunner(lio!.sshDestination, lio!.sshOptions), secrets, saveconfigPath: saveconfigPaths.debian });
    const tgtDriver = createTgtDriver({ server: 'capture-tgt', controlPort: tgtControlPort, runner: localRunner(), secrets, recordFile: path.join(dirs.tgt, 'record.json') });
    for (const [name, image] of Object.entries(exports)) {
      const spec = (backingFile: string, portals: ExportSpec['portals']): ExportSpec => ({
        identity: image.identity,
        placement: { layout: 'per-image', targetIqn: image.targetIqn },
        backingFile,
        sizeBytes: image.sizeBytes,
        initiators: image.initiators,
        chap: { userRef: `${name}/user`, secretRef: `${name}/password` },
        portals,
      });
      // LIO keeps targetcli's 0.0.0.0:3260 portal (the guest's 10.0.2.15 behind the hostfwd); tgtd has its one.
      await lioDriver.ensureExport(spec(`/vm-state/staging/${image.file}`, []));
      await tgtDriver.ensureExport(spec(path.join(dirs.tgt, image.file), [{ address: tgtAddress, port: 3260 }]));
    }
    console.log('exported a and b from LIO and tgt');

    const captured = new Map<string, Call>();
    const save = (name: string, call: Call | undefined) => {
      if (!call) throw new Error(`capture ${name}: the command was not run`);
      captured.set(name, call);
    };
    const line = (call: Call) => call.argv.join(' ');
    const driverRun = async (phase: string, image: Export, overrides: Partial<NodeCheckContext> = {}) => {
      const calls: Call[] = [];
      const driver = createOpenIscsiDriver({ runnerFor: () => recordingRunner(node!, calls) });
      const targets: ServerTarget[] = Object.entries(nodePortals).map(([server, address]) => ({ server, iqn: image.targetIqn, address, port: 3260 }));
      const verdict = await driver.checkNode(
        { node: 'capture-node' },
        {
          targets,
          expected: { serial: image.identity.serial, wwid: image.identity.wwid, sizeBytes: image.sizeBytes, luks: { uuid: luksUuid } },
          checks: { wrongChap: false, writeRefused: true, decryptSample: false, multipath: true },
          chap: image.chap,
          key: { keyId: 'capture-key', withFile: (use) => use(keyFile), withBytes: (use) => use(Buffer.from(key)) },
          onServer: (_server, work) => work(),
          ...overrides,
        },
      );
      console.log(`driver, ${phase}: passed ${verdict.passed.join(' ')}`);
      for (const failure of verdict.failed) console.log(`driver, ${phase}: FAILED ${failure.server ?? ''}:${failure.check}: ${failure.message}`);
      const find = (prefix: string, where: (call: Call) => boolean = () => true) => calls.filter((c) => line(c).startsWith(prefix) && where(c));
      const at = (server: keyof typeof nodePortals) => (call: Call) => call.argv.includes(`${nodePortals[server]}:3260`);
      return { calls, find, at };
    };

    const happy = await driverRun('the node with its CHAP', exports.a);
    save('initiatorname', happy.find('cat /etc/iscsi/initiatorname.iscsi')[0]);
    save('session-P3.none', happy.find('iscsiadm -m session -P 3')[0]);
    save('session-P3.two-sessions', happy.find('iscsiadm -m session -P 3').at(-1));
    save('discovery.lio', happy.find('iscsiadm -m discovery', happy.at('lio'))[0]);
    save('discovery.tgt', happy.find('iscsiadm -m discovery', happy.at('tgt'))[0]);
    save('node-new.lio', happy.find('iscsiadm -m node', (c) => c.argv.includes('new') && happy.at('lio')(c))[0]);
    save('login.lio', happy.find('iscsiadm -m node', (c) => c.argv.includes('--login') && happy.at('lio')(c))[0]);
    save('lsblk.two-disks', happy.find('lsblk')[0]);
    save('multipath-ll.two-paths', happy.find('multipath -ll')[0]);
    save('cryptsetup-luksUUID', happy.find('cryptsetup luksUUID')[0]);
    save('logout.tgt', happy.find('iscsiadm -m node', (c) => c.argv.includes('--logout') && happy.at('tgt')(c))[0]);

    const wrongChap = await driverRun('a wrong CHAP secret', exports.a, { chap: { ...exports.a.chap, password: secretValues.wrong } });
    save('login.lio-wrong-chap', wrongChap.find('iscsiadm -m node', (c) => c.argv.includes('--login') && wrongChap.at('lio')(c))[0]);
    save('login.tgt-wrong-chap', wrongChap.find('iscsiadm -m node', (c) => c.argv.includes('--login') && wrongChap.at('tgt')(c))[0]);

    const outside = await driverRun('a node outside the ACL', exports.b);
    save('discovery.lio-outside-acl', outside.find('iscsiadm -m discovery', outside.at('lio'))[0]);
    save('discovery.tgt-outside-acl', outside.find('iscsiadm -m discovery', outside.at('tgt'))[0]);
    save('login.lio-outside-acl', outside.find('iscsiadm -m node', (c) => c.argv.includes('--login') && outside.at('lio')(c))[0]);

    const wrongKey = await driverRun('a wrong LUKS key', exports.a, { key: { keyId: 'capture-wrong-key', withFile: () => Promise.reject(new Error('not used over SSH')), withBytes: (use) => use(Buffer.from(secretValues.wrongKey)) } });
    save('cryptsetup-test-passphrase.wrong-key', wrongKey.find('cryptsetup open --test-passphrase')[0]);

    // By hand: both paths up (the driver left the node records, with the right CHAP), then the host's portal stopped.
    const calls: Call[] = [];
    const run = recordingRunner(node!, calls);
    const last = () => calls.at(-1)!;
    await run.run(['truncate', '-s', '1M', '/tmp/plain.img']);
    await run.run(['cryptsetup', 'isLuks', '/tmp/plain.img']).catch(() => undefined);
    save('cryptsetup-isLuks.not-luks', last());
    // tgtd hides b from the node's discovery (the driver stops there): a node record made by hand, with b's CHAP.
    const tgtPortal = `${nodePortals.tgt}:3260`;
    const nodeB = ['iscsiadm', '-m', 'node', '-T', exports.b.targetIqn, '-p', tgtPortal];
    await run.run([...nodeB, '-o', 'new']);
    await run.run(['sh', '-c', 'IFS= read -r user && IFS= read -r pass && "$@" -o update -n node.session.auth.authmethod -v CHAP && "$@" -o update -n node.session.auth.username -v "$user" && "$@" -o update -n node.session.auth.password -v "$pass"', 'sh', ...nodeB], { input: `${exports.b.chap.user}\n${exports.b.chap.password}\n` });
    await run.run([...nodeB, '--login']).catch(() => undefined);
    save('login.tgt-outside-acl', last());
    // A failed path shows within seconds instead of open-iscsi's default 120 s.
    await run.run(['iscsiadm', '-m', 'node', '-T', exports.a.targetIqn, '-p', tgtPortal, '-o', 'update', '-n', 'node.session.timeo.replacement_timeout', '-v', '5']);
    for (const address of Object.values(nodePortals)) await run.run(['iscsiadm', '-m', 'node', '-T', exports.a.targetIqn, '-p', `${address}:3260`, '--login']);
    const { wwid } = exports.a.identity;
    const waitForMap = async (what: string, done: (stdout: string) => boolean) => {
      for (let tries = 0; tries < 60; tries++) {
        await run.run(['udevadm', 'settle', '--timeout=30']);
        const listed = await run.run(['multipath', '-ll', wwid]).catch(() => ({ stdout: '' }));
        if (done(listed.stdout)) return last();
        await delay(1000);
      }
      throw new Error(`multipath map ${wwid}: not ${what} within 60 tries`);
    };
    await waitForMap('two active paths', (out) => (out.match(/active ready\s+running/g) ?? []).length === 2);
    await tgtd.stop();
    save('multipath-ll.one-path-failed', await waitForMap('with a failed path', (out) => /failed faulty/.test(out)));
    await run.run(['iscsiadm', '-m', 'session', '-P', '3']);
    save('session-P3.one-portal-down', last());
    await run.run(['multipath', '-f', wwid]).catch(() => undefined);
    await run.run(['iscsiadm', '-m', 'node', '-T', exports.a.targetIqn, '--logout']).catch(() => undefined);

    const versions = await environment(node!);
    writeFixtures(captured, Object.values(secretValues), versions);
    console.log(`captured ${captured.size} outputs into ${capturedDir} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await Promise.allSettled([lio?.stop(), node?.stop()]);
    await tgtd?.stop();
  }
}

/** Where the outputs came from: the guest's kernel and the packages it runs (the host's own userland, over 9p). */
async function environment(node: Guest): Promise<string> {
  const kernel = (await node.run(['uname', '-r'])).stdout.trim();
  const debian = (await node.run(['cat', '/etc/debian_version'])).stdout.trim();
  const packages = (await node.run(['dpkg-query', '-W', '-f', '${Package} ${Version}\\n', 'open-iscsi', 'multipath-tools', 'targetcli-fb', 'python3-rtslib-fb', 'tgt', 'cryptsetup-bin', 'util-linux'])).stdout.trim();
  return `Debian ${debian}, kernel ${kernel} (QEMU guests of test/vm), ${packages.split('\n').join(', ')}`;
}

function writeFixtures(captured: Map<string, Call>, secretValues: string[], versions: string) {
  const files = new Map<string, string>();
  const index: string[] = [];
  for (const [name, call] of [...captured].sort(([a], [b]) => a.localeCompare(b))) {
    if (call.stdout) files.set(`${name}.stdout`, call.stdout);
    if (call.stderr) files.set(`${name}.stderr`, call.stderr);
    index.push(`${name}\t${call.exitCode}\t${call.argv.join(' ')}`);
  }
  files.set('commands.tsv', `${index.join('\n')}\n`);
  files.set(
    'README.md',
    `# Captured open-iscsi outputs\n\nRecorded verbatim by \`test/vm/captureOpenIscsiOutputs.ts\` (see test/vm/README.md) on ${new Date().toISOString().slice(0, 10)}: ${versions}.\n` +
      'A node guest logged in to one LUN exported with one identity by LIO in a guest (10.0.2.100 from the node) and by a tgtd on the host (10.0.2.101), each with an ACL for the node and CHAP. ' +
      '`commands.tsv` lists each case, its exit code and the command; `<case>.stdout` and `<case>.stderr` are what it printed (absent when empty). The CHAP secrets and LUKS keys were throwaway.\n',
  );
  const leaked = [...files].filter(([, text]) => secretValues.some((secret) => text.includes(secret))).map(([file]) => file);
  if (leaked.length) throw new Error(`a secret appears in ${leaked.join(', ')}: nothing written`);
  fs.rmSync(capturedDir, { recursive: true, force: true });
  fs.mkdirSync(capturedDir, { recursive: true });
  for (const [file, text] of files) fs.writeFileSync(path.join(capturedDir, file), text);
}

await main();
