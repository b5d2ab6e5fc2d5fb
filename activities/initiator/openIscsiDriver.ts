// The open-iscsi driver: what seed 003 does on a compute node, run over SSH (CommandRunner) as checks.
// Discovery on every server, login (or a rescan of the node's own session: a booted node may run its root
// from this very target, so a session the check did not create is never logged out), the session's disks
// found by serial and WWN, their size and read-only flag, the multipath map for the WWID, then
// `cryptsetup isLuks`/`luksUUID` and `open --test-passphrase` with the key copied to /dev/shm and removed.
// Only when the spec names a file the image must hold is the LUN mapped and mounted as the node boots it
// (dm-crypt read-only, squashfs read-only), the file read, and everything unmapped again. The dev host has
// no kernel initiator: this runs in the VM tier and on sites; its parsing is tested on outputs recorded there.
import { randomBytes } from 'node:crypto';
import { CommandFailed, type CommandRunner } from '../export/commandRunner';
import type { InitiatorDriver, NodeCheckContext, ServerTarget } from './driver';
import { parseInitiatorName, parseLsblk, parseMultipath, parseSendTargets, parseSessionTree, type BlockDevice, type Session } from './openIscsiOutput';
import { VerdictRecorder } from './verdict';

export interface OpenIscsiDriverSettings {
  /** How commands reach a node: `sshRunner(\`root@${node}\`)` in production, a recording fake in tests. */
  runnerFor(node: string): CommandRunner;
}

const portalOf = (target: ServerTarget) => `${target.address.includes(':') && !target.address.startsWith('[') ? `[${target.address}]` : target.address}:${target.port}`;
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** "iscsiadm: No active sessions." exits 21: no session is not an error here. */
async function sessions(run: CommandRunner): Promise<Session[]> {
  try {
    return parseSessionTree((await run.run(['iscsiadm', '-m', 'session', '-P', '3'])).stdout);
  } catch (error) {
    if (error instanceof CommandFailed && error.exitCode === 21) return [];
    throw error;
  }
}

/** CHAP into the node record; values on stdin, never on the SSH command line (iscsiadm itself takes them as argv there). */
async function setChap(run: CommandRunner, target: ServerTarget, chap: { user: string; password: string }) {
  const script = [
    'IFS= read -r user && IFS= read -r pass || exit 2',
    'iscsiadm -m node -T "$1" -p "$2" -o update -n node.session.auth.authmethod -v CHAP',
    'iscsiadm -m node -T "$1" -p "$2" -o update -n node.session.auth.username -v "$user"',
    'exec iscsiadm -m node -T "$1" -p "$2" -o update -n node.session.auth.password -v "$pass"',
  ].join(' && ');
  await run.run(['sh', '-c', script, 'sh', target.iqn, portalOf(target)], { input: `${chap.user}\n${chap.password}\n`, secrets: [chap.user, chap.password] });
}

/**
 * What iscsiadm's login exit codes mean for an operator. LIO answers a wrong CHAP secret and an initiator
 * outside its ACL with the same "authorization failure" (captured in test/initiator/fixtures/captured/).
 */
function loginRefusal(error: unknown): string | undefined {
  if (!(error instanceof CommandFailed)) return undefined;
  const said = error.stderr.split('\n').find((line) => /initiator reported error|login failure/.test(line))?.replace(/^iscsiadm: /, '').trim();
  const reasons: Record<number, string> = {
    24: 'the target refused the login: wrong CHAP credentials, or this node is not in the target\'s ACL',
    19: 'the target refused the login for good (no such target for this initiator, or not allowed)',
  };
  const reason = error.exitCode === undefined ? undefined : reasons[error.exitCode];
  return reason && `${reason} (iscsiadm exit ${error.exitCode}${said ? `: ${said}` : ''})`;
}

/** Maps the LUKS device read-only as the node's initramfs does, runs `use` on the plaintext device, unmaps it. */
async function withDecrypted(run: CommandRunner, device: string, keyFile: string, use: (plaintext: string) => Promise<void>) {
  const name = `validate-${randomBytes(6).toString('hex')}`;
  await run.run(['cryptsetup', 'open', '--readonly', '--key-file', keyFile, device, name]);
  try {
    await use(`/dev/mapper/${name}`);
  } finally {
    await run.run(['cryptsetup', 'close', name]);
  }
}

/** Mounts the squashfs read-only where nothing else is, hashes the expected file, unmounts. */
async function checkContent(run: CommandRunner, device: string, context: NodeCheckContext, verdict: VerdictRecorder) {
  const { path, sha256 } = context.expected.content!;
  const script = [
    'dir=$(mktemp -d /run/validate-XXXXXX) || exit 3',
    'mount -t squashfs -o ro "$1" "$dir" || { rmdir "$dir"; exit 4; }',
    'sum=$(sha256sum < "$dir$2"); status=$?',
    'umount "$dir" && rmdir "$dir"',
    '[ $status -eq 0 ] || exit 5',
    'echo "${sum%% *}"',
  ].join('; ');
  try {
    const seen = (await run.run(['sh', '-c', script, 'sh', device, path])).stdout.trim();
    verdict.expect('content', seen === sha256 ? undefined : `${path} in the image has sha256 ${seen}, expected ${sha256}`);
  } catch (error) {
    const reasons: Record<number, string> = { 4: `${device} does not mount as a squashfs`, 5: `the image has no readable ${path}` };
    verdict.fail('content', (error instanceof CommandFailed && error.exitCode !== undefined && reasons[error.exitCode]) || messageOf(error));
  }
}

export function createOpenIscsiDriver(settings: OpenIscsiDriverSettings): InitiatorDriver {
  async function loginOn(run: CommandRunner, target: ServerTarget, existing: Session[], context: NodeCheckContext, verdict: VerdictRecorder): Promise<'created' | 'existing' | 'failed'> {
    const { server } = target;
    const portal = portalOf(target);
    try {
      const listed = parseSendTargets((await run.run(['iscsiadm', '-m', 'discovery', '-t', 'sendtargets', '-p', portal])).stdout);
      const found = listed.filter((t) => t.iqn === target.iqn);
      if (!verdict.expect('discovery', found.length ? undefined : `${portal} does not list ${target.iqn} (listed: ${[...new Set(listed.map((t) => t.iqn))].join(', ') || 'none'})`, server)) return 'failed';
      // The target answers with the address it knows itself by; behind NAT or a port forward the node
      // reaches it by another: log in where the spec says, through a node record of its own.
      if (!found.some((t) => t.portal === portal)) await run.run(['iscsiadm', '-m', 'node', '-T', target.iqn, '-p', portal, '-o', 'new']);
    } catch (error) {
      verdict.fail('discovery', messageOf(error), server);
      return 'failed';
    }
    if (context.checks.wrongChap) verdict.skip('chap-enforced', 'not tried over open-iscsi: it would rewrite the node record of a target the node may be booted from', server);
    const session = existing.find((s) => s.iqn === target.iqn && s.portal === portal);
    try {
      if (session) {
        await run.run(['iscsiadm', '-m', 'session', '-r', String(session.sid), '--rescan']);
        verdict.pass('login', server);
        return 'existing';
      }
      if (context.chap) await setChap(run, target, context.chap);
      await run.run(['iscsiadm', '-m', 'node', '-T', target.iqn, '-p', portal, '--login'], { secrets: context.chap ? [context.chap.password] : [] });
      verdict.pass('login', server);
      return 'created';
    } catch (error) {
      verdict.fail('login', loginRefusal(error) ?? messageOf(error), server);
      return 'failed';
    }
  }

  function checkDisk(target: ServerTarget, session: Session | undefined, devices: BlockDevice[], context: NodeCheckContext, verdict: VerdictRecorder): BlockDevice | undefined {
    const { server } = target;
    const { expected, checks } = context;
    const wwn = `0x${expected.wwid.slice(1)}`;
    const mine = devices.filter((d) => session?.disks.some((disk) => disk.device === d.name));
    const disk = mine.find((d) => d.serial === expected.serial || d.wwn === wwn);
    if (!disk) {
      const seen = mine.map((d) => `${d.name}: serial ${d.serial || '-'} wwn ${d.wwn || '-'}`).join('; ');
      verdict.fail('identity', `no disk of the session to ${target.iqn} has serial ${expected.serial} or WWN ${wwn} (${seen || 'no disk attached'})`, server);
      return undefined;
    }
    verdict.expect('identity', disk.serial === expected.serial && disk.wwn === wwn ? undefined : `${disk.name} has serial ${disk.serial || '-'} and WWN ${disk.wwn || '-'}; expected ${expected.serial} and ${wwn}`, server);
    verdict.expect('capacity', disk.size === expected.sizeBytes ? undefined : `${disk.name} has ${disk.size} bytes; the exported artifact has ${expected.sizeBytes}`, server);
    if (checks.writeRefused) verdict.expect('write-refused', disk.ro ? undefined : `the kernel has ${disk.name} read-write: the target does not report write protection`, server);
    return disk;
  }

  async function multipathDevice(run: CommandRunner, disks: BlockDevice[], context: NodeCheckContext, verdict: VerdictRecorder): Promise<string | undefined> {
    const { wwid } = context.expected;
    try {
      const map = parseMultipath((await run.run(['multipath', '-ll', wwid])).stdout).find((m) => m.wwid === wwid);
      if (!map) return void verdict.fail('multipath', `no multipath map for WWID ${wwid}`);
      const active = map.paths.filter((p) => disks.some((d) => d.name === p.device) && p.dmState === 'active' && p.pathState === 'ready');
      const problem =
        active.length < disks.length
          ? `map ${map.name} has ${active.length} active ready path(s) of the ${disks.length} disk(s) found (${map.paths.map((p) => `${p.device} ${p.dmState} ${p.pathState}`).join(', ') || 'no path'})`
          : map.writeProtect !== 'ro'
            ? `map ${map.name} is wp=${map.writeProtect ?? '?'}, expected wp=ro`
            : undefined;
      verdict.expect('multipath', problem);
      return `/dev/mapper/${map.name}`;
    } catch (error) {
      return void verdict.fail('multipath', messageOf(error));
    }
  }

  async function checkLuks(run: CommandRunner, device: string, context: NodeCheckContext, verdict: VerdictRecorder) {
    const expected = context.expected.luks!;
    try {
      await run.run(['cryptsetup', 'isLuks', device]);
      const uuid = (await run.run(['cryptsetup', 'luksUUID', device])).stdout.trim();
      if (!verdict.expect('luks-header', expected.uuid === undefined || uuid === expected.uuid ? undefined : `${device} has LUKS UUID ${uuid}, expected ${expected.uuid}`)) return;
    } catch (error) {
      return verdict.fail('luks-header', error instanceof CommandFailed && error.exitCode === 1 && error.argv[1] === 'isLuks' ? `${device} is not a LUKS device` : messageOf(error));
    }
    if (context.checks.decryptSample) verdict.skip('decrypt-sample', 'open-iscsi checks the key with --test-passphrase (and reads the `content` file, when given, through a read-only mapping)');
    if (!context.key) return verdict.skip('luks-key', 'no LUKS key reference in the input');
    const keyFile = `/dev/shm/validate-${randomBytes(8).toString('hex')}`;
    await context.key.withBytes(async (key) => {
      const text = key.toString('latin1');
      try {
        try {
          await run.run(['sh', '-c', 'umask 077 && cat > "$1"', 'sh', keyFile], { input: text, secrets: [text] });
          await run.run(['cryptsetup', 'open', '--test-passphrase', '--key-file', keyFile, device]);
          verdict.pass('luks-key');
        } catch (error) {
          const noSlot = error instanceof CommandFailed && error.exitCode === 2;
          return verdict.fail('luks-key', noSlot ? `key ${context.key!.keyId} opens no key slot of ${device}` : messageOf(error));
        }
        if (context.expected.content) {
          await withDecrypted(run, device, keyFile, (plain) => checkContent(run, plain, context, verdict)).catch((error) => verdict.fail('content', `dm-crypt: ${messageOf(error)}`));
        }
      } finally {
        await run.run(['rm', '-f', keyFile]).catch((error) => verdict.fail('luks-key', `could not remove ${keyFile}: ${messageOf(error)}`));
      }
    });
  }

  /** Logs in on every server (recording in `created` the sessions it opened), then checks disks, multipath and LUKS. */
  async function checkSessions(run: CommandRunner, context: NodeCheckContext, verdict: VerdictRecorder, created: ServerTarget[]) {
    const before = await sessions(run);
    const logins = await Promise.all(
      context.targets.map((target) =>
        context.onServer(target.server, async () => {
          const outcome = await loginOn(run, target, before, context, verdict);
          if (outcome === 'created') created.push(target);
          return outcome;
        }),
      ),
    );
    const loggedIn = context.targets.filter((_, i) => logins[i] !== 'failed');
    if (!loggedIn.length) return;
    await run.run(['udevadm', 'settle', '--timeout=30']).catch(() => undefined);
    const after = await sessions(run);
    const sessionOf = (target: ServerTarget) => after.find((s) => s.iqn === target.iqn && s.portal === portalOf(target));
    const names = loggedIn.flatMap((target) => sessionOf(target)?.disks.map((d) => `/dev/${d.device}`) ?? []);
    const devices = names.length ? parseLsblk((await run.run(['lsblk', '--json', '--bytes', '--nodeps', '--output', 'NAME,SIZE,SERIAL,WWN,RO', ...names])).stdout) : [];
    const disks = loggedIn.map((target) => checkDisk(target, sessionOf(target), devices, context, verdict)).filter((d): d is BlockDevice => d !== undefined);
    if (!disks.length) return;
    const device = context.checks.multipath ? await multipathDevice(run, disks, context, verdict) : `/dev/${disks[0].name}`;
    if (!device) return;
    if (context.expected.luks) await checkLuks(run, device, context, verdict);
    else if (context.expected.content) await checkContent(run, device, context, verdict);
  }

  return {
    kind: 'open-iscsi',
    async checkNode({ node }, context) {
      const run = settings.runnerFor(node);
      const verdict = new VerdictRecorder(node, undefined, context.targets.map((t) => t.server));
      try {
        const name = parseInitiatorName((await run.run(['cat', '/etc/iscsi/initiatorname.iscsi'])).stdout);
        if (name) verdict.setInitiator(name);
        verdict.pass('reachable');
      } catch (error) {
        verdict.fail('reachable', messageOf(error));
        return verdict.finish();
      }
      const created: ServerTarget[] = [];
      try {
        await checkSessions(run, context, verdict, created);
      } catch (error) {
        verdict.fail('reachable', messageOf(error));
      } finally {
        for (const target of created) {
          await run.run(['iscsiadm', '-m', 'node', '-T', target.iqn, '-p', portalOf(target), '--logout']).catch((error) => verdict.fail('login', `logged in for the check but could not log out: ${messageOf(error)}`, target.server));
        }
        // Every path was the check's own: the multipath map it made goes too (it stays, queueing, without paths).
        if (created.length === context.targets.length && context.checks.multipath) {
          await run.run(['multipath', '-f', context.expected.wwid]).catch((error) => {
            if (!/not a multipath device|no such|doesn't exist/i.test(messageOf(error))) verdict.fail('multipath', `could not remove the map the check made: ${messageOf(error)}`);
          });
        }
      }
      return verdict.finish();
    },
  };
}
