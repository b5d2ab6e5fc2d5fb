// The open-iscsi (SSH) driver cannot run here (no kernel initiator, no multipath, no device-mapper): its
// parsers run on recorded outputs, and the driver against a fake runner that answers like a node would,
// checking the commands it sends, what it sends on stdin, and that it logs out only what it logged into.
import { describe, expect, it } from 'vitest';
import { CommandFailed, type CommandRunner, type RunOptions } from '../../activities/export/commandRunner';
import type { NodeCheckContext } from '../../activities/initiator/driver';
import { createOpenIscsiDriver } from '../../activities/initiator/openIscsiDriver';
import { parseInitiatorName, parseLsblk, parseMultipath, parseSendTargets, parseSessionTree } from '../../activities/initiator/openIscsiOutput';
import * as recorded from './fixtures/openIscsi';

describe('open-iscsi output parsers', () => {
  it('reads the initiator name past the comments', () => {
    expect(parseInitiatorName(recorded.initiatorName)).toBe('iqn.2026-01.org.ocean:x3000c0s1b0n0');
  });

  it('reads SendTargets lines, IPv6 portals included', () => {
    expect(parseSendTargets(recorded.sendTargetsIpv6)).toEqual([
      { portal: '[fd00:10::5]:3260', tpgt: 1, iqn: 'iqn.2023-06.csm.iscsi:ncn-w001' },
      { portal: '10.1.0.5:3260', tpgt: 1, iqn: 'iqn.2023-06.csm.iscsi:ncn-w001' },
    ]);
  });

  it('reads sessions with their SID, state and the disk of each LUN', () => {
    expect(parseSessionTree(recorded.sessionsAfter)).toEqual([
      { iqn: 'iqn.2023-06.csm.iscsi:ncn-w001', portal: '10.1.0.5:3260', sid: 1, state: 'LOGGED_IN', disks: [{ lun: 0, device: 'sdx', state: 'running' }, { lun: 14, device: 'sdb', state: 'running' }] },
      { iqn: 'iqn.2023-06.csm.iscsi:ncn-w002', portal: '10.1.0.6:3260', sid: 2, state: 'LOGGED_IN', disks: [{ lun: 0, device: 'sdy', state: 'running' }, { lun: 14, device: 'sdc', state: 'running' }] },
    ]);
    expect(parseSessionTree(recorded.sessionsBefore.none)).toEqual([]);
  });

  it('reads lsblk JSON as util-linux 2.33+ and older versions print it', () => {
    const expected = { name: 'sdb', size: 1_052_672, serial: recorded.serial, wwn: `0x${recorded.wwid.slice(1)}`, ro: true };
    expect(parseLsblk(recorded.lsblk([{ name: 'sdb' }]))).toEqual([expected]);
    expect(parseLsblk(recorded.lsblkOld)).toEqual([expected, { ...expected, name: 'sdc', ro: false }]);
  });

  it('reads multipath maps by alias or WWID, with wp and each path state, past configuration warnings', () => {
    expect(parseMultipath(recorded.multipath())).toEqual([
      {
        name: 'img-rootfs',
        wwid: recorded.wwid,
        dm: 'dm-3',
        writeProtect: 'ro',
        paths: [
          { hctl: '3:0:0:14', device: 'sdb', dmState: 'active', pathState: 'ready', online: 'running' },
          { hctl: '4:0:0:14', device: 'sdc', dmState: 'active', pathState: 'ready', online: 'running' },
        ],
      },
    ]);
    const [bare] = parseMultipath(recorded.multipathNoAlias);
    expect([bare.name, bare.wwid, bare.paths.map((p) => `${p.device} ${p.dmState} ${p.pathState}`)]).toEqual([recorded.wwid, recorded.wwid, ['sdb active ready', 'sdc failed faulty']]);
  });
});

const chap = { user: 'node_user', password: 'chap-secret-value-1234' };
const key = Buffer.from('K'.repeat(86));
const targets = [
  { server: 'ncn-w001', iqn: 'iqn.2023-06.csm.iscsi:ncn-w001', address: '10.1.0.5', port: 3260 },
  { server: 'ncn-w002', iqn: 'iqn.2023-06.csm.iscsi:ncn-w002', address: '10.1.0.6', port: 3260 },
];

function context(overrides: Partial<NodeCheckContext> = {}): NodeCheckContext {
  return {
    targets,
    expected: { serial: recorded.serial, wwid: recorded.wwid, sizeBytes: 1_052_672, luks: { uuid: recorded.luksUuid } },
    checks: { wrongChap: true, writeRefused: true, decryptSample: true, multipath: true },
    chap,
    key: { keyId: 'luks-k1', withFile: () => Promise.reject(new Error('not used over SSH')), withBytes: (use) => use(key) },
    onServer: (_server, work) => work(),
    ...overrides,
  };
}

type Answer = string | { exitCode: number; stderr: string };

/** A node that answers each command like `answers` says; records every call. */
function fakeNode(answers: (argv: string[]) => Answer) {
  const calls: { argv: string[]; input?: string }[] = [];
  const runner: CommandRunner = {
    where: 'x3000c0s1b0n0',
    async run(argv: string[], options: RunOptions = {}) {
      calls.push({ argv, input: options.input?.toString() });
      const answer = answers(argv);
      if (typeof answer === 'string') return { stdout: answer };
      throw new CommandFailed(argv, answer.exitCode, answer.stderr, 'x3000c0s1b0n0');
    },
  };
  return { calls, driver: createOpenIscsiDriver({ runnerFor: () => runner }) };
}

/** A healthy node: no session before, both servers list their target, both disks read-only with the identity. */
function healthy(changes: Partial<Record<string, Answer>> & { before?: string } = {}) {
  let sessionCalls = 0;
  return (argv: string[]): Answer => {
    const line = argv.join(' ');
    for (const [prefix, answer] of Object.entries(changes)) if (prefix !== 'before' && line.startsWith(prefix)) return answer!;
    if (line === 'cat /etc/iscsi/initiatorname.iscsi') return recorded.initiatorName;
    if (line === 'iscsiadm -m session -P 3') {
      if (sessionCalls++ > 0) return recorded.sessionsAfter;
      const before = changes.before ?? recorded.sessionsBefore.none;
      return before.startsWith('iscsiadm: No active') ? { exitCode: 21, stderr: before } : before;
    }
    if (line.startsWith('iscsiadm -m discovery')) return recorded.sendTargets(argv[6].split(':')[0], argv[6].startsWith('10.1.0.5') ? 'ncn-w001' : 'ncn-w002');
    if (line.startsWith('lsblk')) {
      return recorded.lsblk(argv.slice(7).map((dev) => dev.slice(5)).map((name) => (['sdb', 'sdc'].includes(name) ? { name } : { name, serial: 'other', wwn: '0x6001405aaaaaaaaaaaaaaaaaaaaaaaaa' })));
    }
    if (line.startsWith('multipath -ll')) return recorded.multipath();
    if (line.startsWith('cryptsetup luksUUID')) return `${recorded.luksUuid}\n`;
    return '';
  };
}

const commands = (calls: { argv: string[] }[]) => calls.map((c) => c.argv.join(' '));

describe('open-iscsi driver (commands sent to a recorded node)', () => {
  it('discovers, sets CHAP through stdin, logs in, finds the disks, checks multipath and LUKS, removes the key, logs out', async () => {
    const { calls, driver } = fakeNode(healthy());
    const verdict = await driver.checkNode({ node: 'x3000c0s1b0n0' }, context());
    expect(verdict.failed).toEqual([]);
    expect(verdict).toMatchObject({ ok: true, initiatorIqn: 'iqn.2026-01.org.ocean:x3000c0s1b0n0' });
    expect(verdict.passed).toEqual(
      expect.arrayContaining(['reachable', 'multipath', 'luks-header', 'luks-key', ...targets.flatMap((t) => ['discovery', 'login', 'identity', 'capacity', 'write-refused'].map((c) => `${t.server}:${c}`))]),
    );
    expect(verdict.skipped.map((s) => s.check).sort()).toEqual(['chap-enforced', 'chap-enforced', 'decrypt-sample']);

    const sent = commands(calls);
    const keyFile = calls.find((c) => c.argv[0] === 'sh' && c.argv[2].includes('umask 077'))!.argv[4];
    expect(keyFile).toMatch(/^\/dev\/shm\/validate-[0-9a-f]{16}$/);
    expect(sent).toEqual([
      'cat /etc/iscsi/initiatorname.iscsi',
      'iscsiadm -m session -P 3',
      'iscsiadm -m discovery -t sendtargets -p 10.1.0.5:3260',
      'iscsiadm -m discovery -t sendtargets -p 10.1.0.6:3260',
      expect.stringMatching(/^sh -c .*node\.session\.auth\.password -v "\$pass" sh iqn\.2023-06\.csm\.iscsi:ncn-w001 10\.1\.0\.5:3260$/),
      expect.stringMatching(/^sh -c .* sh iqn\.2023-06\.csm\.iscsi:ncn-w002 10\.1\.0\.6:3260$/),
      'iscsiadm -m node -T iqn.2023-06.csm.iscsi:ncn-w001 -p 10.1.0.5:3260 --login',
      'iscsiadm -m node -T iqn.2023-06.csm.iscsi:ncn-w002 -p 10.1.0.6:3260 --login',
      'udevadm settle --timeout=30',
      'iscsiadm -m session -P 3',
      'lsblk --json --bytes --nodeps --output NAME,SIZE,SERIAL,WWN,RO /dev/sdx /dev/sdb /dev/sdy /dev/sdc',
      `multipath -ll ${recorded.wwid}`,
      'cryptsetup isLuks /dev/mapper/img-rootfs',
      'cryptsetup luksUUID /dev/mapper/img-rootfs',
      `sh -c umask 077 && cat > "$1" sh ${keyFile}`,
      `cryptsetup open --test-passphrase --key-file ${keyFile} /dev/mapper/img-rootfs`,
      `rm -f ${keyFile}`,
      'iscsiadm -m node -T iqn.2023-06.csm.iscsi:ncn-w001 -p 10.1.0.5:3260 --logout',
      'iscsiadm -m node -T iqn.2023-06.csm.iscsi:ncn-w002 -p 10.1.0.6:3260 --logout',
      // every path was the check's own: the map it made goes too
      `multipath -f ${recorded.wwid}`,
    ]);
    // Secrets travel on stdin only, never in argv (which SSH and the node's process table show).
    expect(sent.join('\n')).not.toContain(chap.password);
    expect(sent.join('\n')).not.toContain(key.toString());
    expect(calls.filter((c) => c.input?.includes(chap.password)).map((c) => c.input)).toEqual([`${chap.user}\n${chap.password}\n`, `${chap.user}\n${chap.password}\n`]);
    expect(calls.find((c) => c.argv[2]?.includes('umask 077'))!.input).toBe(key.toString());
  });

  it('rescans the session a booted node already has and never logs it out', async () => {
    const { calls, driver } = fakeNode(healthy({ before: recorded.sessionsBefore.onFirst }));
    const verdict = await driver.checkNode({ node: 'x3000c0s1b0n0' }, context({ chap: undefined }));
    expect(verdict.ok).toBe(true);
    const sent = commands(calls);
    expect(sent).toContain('iscsiadm -m session -r 1 --rescan');
    expect(sent.filter((c) => c.includes('--login'))).toEqual(['iscsiadm -m node -T iqn.2023-06.csm.iscsi:ncn-w002 -p 10.1.0.6:3260 --login']);
    expect(sent.filter((c) => c.includes('--logout'))).toEqual(['iscsiadm -m node -T iqn.2023-06.csm.iscsi:ncn-w002 -p 10.1.0.6:3260 --logout']);
    expect(sent.some((c) => c.startsWith('sh -c') && c.includes('auth'))).toBe(false);
  });

  it("fails the server that refuses the login with iscsiadm's own words, and checks the other", async () => {
    const { calls, driver } = fakeNode(healthy({ 'iscsiadm -m node -T iqn.2023-06.csm.iscsi:ncn-w002 -p 10.1.0.6:3260 --login': { exitCode: 24, stderr: recorded.loginAuthFailure } }));
    const verdict = await driver.checkNode({ node: 'x3000c0s1b0n0' }, context());
    expect(verdict.ok).toBe(false);
    expect(verdict.failed).toEqual([{ check: 'login', server: 'ncn-w002', message: expect.stringContaining('iSCSI login failed due to authorization failure') }]);
    expect(verdict.passed).toEqual(expect.arrayContaining(['ncn-w001:identity', 'multipath', 'luks-key']));
    expect(verdict.failed[0].message).not.toContain(chap.password);
    expect(commands(calls).filter((c) => c.includes('--logout'))).toEqual(['iscsiadm -m node -T iqn.2023-06.csm.iscsi:ncn-w001 -p 10.1.0.5:3260 --logout']);
  });

  it('fails a target missing from one server, a writable or short disk, a degraded map and a wrong key; the key file is removed anyway', async () => {
    const { calls, driver } = fakeNode(
      healthy({
        'iscsiadm -m discovery -t sendtargets -p 10.1.0.6:3260': recorded.sendTargets('10.1.0.6', 'some-other-host'),
        lsblk: recorded.lsblk([{ name: 'sdx', serial: 'other', wwn: '0x6001405aaaaaaaaaaaaaaaaaaaaaaaaa' }, { name: 'sdb', size: 1_048_576, ro: false }]),
        'multipath -ll': recorded.multipath(['`- 3:0:0:14 sdb 8:16  failed faulty running'], 'rw'),
        'cryptsetup open': { exitCode: 2, stderr: 'No key available with this passphrase.' },
      }),
    );
    const verdict = await driver.checkNode({ node: 'x3000c0s1b0n0' }, context());
    expect(verdict.failed.map((f) => [f.server, f.check, f.message])).toEqual([
      [undefined, 'multipath', 'map img-rootfs has 0 active ready path(s) of the 1 disk(s) found (sdb failed faulty)'],
      [undefined, 'luks-key', 'key luks-k1 opens no key slot of /dev/mapper/img-rootfs'],
      ['ncn-w001', 'capacity', 'sdb has 1048576 bytes; the exported artifact has 1052672'],
      ['ncn-w001', 'write-refused', 'the kernel has sdb read-write: the target does not report write protection'],
      ['ncn-w002', 'discovery', '10.1.0.6:3260 does not list iqn.2023-06.csm.iscsi:ncn-w002 (listed: iqn.2023-06.csm.iscsi:some-other-host)'],
    ]);
    expect(commands(calls).filter((c) => c.startsWith('rm -f /dev/shm/validate-'))).toHaveLength(1);
  });

  it('reports an unreachable node as such and runs nothing else', async () => {
    const { calls, driver } = fakeNode(() => ({ exitCode: 255, stderr: recorded.sshUnreachable }));
    const verdict = await driver.checkNode({ node: 'x3000c0s1b0n0' }, context());
    expect(verdict.failed).toEqual([{ check: 'reachable', message: expect.stringContaining('No route to host') }]);
    expect(calls).toHaveLength(1);
  });

  it('opens the disk itself without multipath, and names a non-LUKS device', async () => {
    const { calls, driver } = fakeNode(healthy({ 'cryptsetup isLuks': { exitCode: 1, stderr: '' } }));
    const verdict = await driver.checkNode({ node: 'x3000c0s1b0n0' }, context({ checks: { wrongChap: false, writeRefused: true, decryptSample: false, multipath: false } }));
    expect(verdict.failed).toEqual([{ check: 'luks-header', message: '/dev/sdb is not a LUKS device' }]);
    expect(commands(calls).some((c) => c.startsWith('multipath'))).toBe(false);
  });
});
