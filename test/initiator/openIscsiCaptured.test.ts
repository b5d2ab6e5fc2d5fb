// The open-iscsi driver's parsers, and its reading of login failures, on outputs recorded from a real node
// guest logged in to one LUN on LIO (in a guest) and tgtd (on the host): fixtures/captured/README.md.
import { describe, expect, it } from 'vitest';
import { CommandFailed, type CommandRunner } from '../../activities/export/commandRunner';
import { createOpenIscsiDriver } from '../../activities/initiator/openIscsiDriver';
import { parseInitiatorName, parseLsblk, parseMultipath, parseSendTargets, parseSessionTree } from '../../activities/initiator/openIscsiOutput';
import { lunIdentity } from '../../lib/lunIdentity';
import { captured, capturedExports } from './fixtures/captured';

const a = { ...capturedExports.a, identity: lunIdentity(capturedExports.a.link) };
const b = { ...capturedExports.b, identity: lunIdentity(capturedExports.b.link) };
/** The node reached LIO at 10.0.2.100 and the host's tgtd at 10.0.2.101 (QEMU guestfwd). */
const portals = { lio: '10.0.2.100:3260', tgt: '10.0.2.101:3260' };

const sessionsOf = (name: string) => parseSessionTree(captured(name).stdout);
const diskOn = (name: string, portal: string) => sessionsOf(name).find((s) => s.portal === portal)!.disks[0].device;

describe('open-iscsi parsers on captured outputs', () => {
  it("reads the node's initiator name", () => {
    expect(parseInitiatorName(captured('initiatorname').stdout)).toBe('iqn.2024-01.org.vm-tier:capture-node');
  });

  it('reads discovery answers that name the portal as the target knows itself, not as the node reached it', () => {
    // LIO listens on 0.0.0.0 and answers with the guest's own address; it lists b, whose ACL leaves the node out.
    for (const name of ['discovery.lio', 'discovery.lio-outside-acl']) {
      expect(parseSendTargets(captured(name).stdout)).toEqual([
        { portal: '10.0.2.15:3260', tpgt: 1, iqn: a.targetIqn },
        { portal: '10.0.2.15:3260', tpgt: 1, iqn: b.targetIqn },
      ]);
    }
    // tgtd answers with its host address and lists only the targets whose ACL admits the node.
    for (const name of ['discovery.tgt', 'discovery.tgt-outside-acl']) {
      expect(parseSendTargets(captured(name).stdout)).toEqual([{ portal: '127.0.0.47:3260', tpgt: 1, iqn: a.targetIqn }]);
    }
  });

  it('reads no session from "No active sessions" (exit 21, on stderr)', () => {
    const none = captured('session-P3.none');
    expect([none.exitCode, none.stderr]).toEqual([21, 'iscsiadm: No active sessions.\n']);
    expect(parseSessionTree(none.stdout)).toEqual([]);
  });

  it('reads two sessions to one target printed under a single Target line, each with its disk at LUN 1', () => {
    const sessions = sessionsOf('session-P3.two-sessions');
    expect(sessions.map((s) => [s.iqn, s.portal, s.state, s.disks.map((d) => [d.lun, d.state])]).sort()).toEqual([
      [a.targetIqn, portals.lio, 'LOGGED_IN', [[1, 'running']]],
      // tgtd's LUN 0 is its controller: listed, no disk attached.
      [a.targetIqn, portals.tgt, 'LOGGED_IN', [[1, 'running']]],
    ]);
    expect(new Set(sessions.map((s) => s.sid)).size).toBe(2);
    expect(new Set(sessions.map((s) => s.disks[0].device)).size).toBe(2);
  });

  it("reads the session to a stopped portal as FREE with its disk transport-offline, the other's as running", () => {
    const sessions = sessionsOf('session-P3.one-portal-down');
    expect(sessions.map((s) => [s.portal, s.state, s.disks.map((d) => d.state)]).sort()).toEqual([
      [portals.lio, 'LOGGED_IN', ['running']],
      [portals.tgt, 'FREE', ['transport-offline']],
    ]);
  });

  it("reads lsblk's JSON: the same serial, WWN and size on both disks, read-only", () => {
    const disks = parseLsblk(captured('lsblk.two-disks').stdout);
    const expected = { size: 33_554_432, serial: a.identity.serial, wwn: `0x${a.identity.wwid.slice(1)}`, ro: true };
    expect(disks).toEqual([
      { name: diskOn('session-P3.two-sessions', portals.tgt), ...expected },
      { name: diskOn('session-P3.two-sessions', portals.lio), ...expected },
    ].sort((x, y) => x.name.localeCompare(y.name)));
  });

  it('reads the map of both paths by its WWID, write-protected, both paths active and ready', () => {
    const [map, ...others] = parseMultipath(captured('multipath-ll.two-paths').stdout);
    expect(others).toEqual([]);
    expect({ ...map, paths: map.paths.map((p) => `${p.device} ${p.dmState} ${p.pathState} ${p.online}`).sort() }).toEqual({
      name: a.identity.wwid,
      wwid: a.identity.wwid,
      dm: 'dm-0',
      writeProtect: 'ro',
      paths: Object.values(portals).map((portal) => `${diskOn('session-P3.two-sessions', portal)} active ready running`).sort(),
    });
  });

  it('reads the path through the stopped portal as failed and faulty, the other as active', () => {
    const [map] = parseMultipath(captured('multipath-ll.one-path-failed').stdout);
    const state = (portal: string) => map.paths.filter((p) => p.device === diskOn('session-P3.one-portal-down', portal)).map((p) => `${p.dmState} ${p.pathState} ${p.online}`);
    expect([map.wwid, map.writeProtect, state(portals.tgt), state(portals.lio)]).toEqual([a.identity.wwid, 'ro', ['failed faulty running'], ['active ready running']]);
  });
});

/** A node answering each command with the captured output of the same command line among `cases`; anything else succeeds silently. */
function replayingNode(cases: string[]) {
  const outputs = cases.map(captured);
  const sent: string[] = [];
  const runner: CommandRunner = {
    where: 'capture-node',
    async run(argv) {
      const line = argv.join(' ');
      sent.push(line);
      const output = outputs.find((o) => o.argv === line);
      if (output?.exitCode) throw new CommandFailed(argv, output.exitCode, output.stderr || output.stdout, 'capture-node');
      return { stdout: output?.stdout ?? '', stderr: output?.stderr ?? '' };
    },
  };
  return { sent, driver: createOpenIscsiDriver({ runnerFor: () => runner }) };
}

async function check(image: typeof a | typeof b, cases: string[]) {
  const { sent, driver } = replayingNode(['initiatorname', 'session-P3.none', ...cases]);
  const verdict = await driver.checkNode(
    { node: 'capture-node' },
    {
      targets: Object.entries(portals).map(([server, portal]) => ({ server, iqn: image.targetIqn, address: portal.split(':')[0], port: 3260 })),
      expected: { serial: image.identity.serial, wwid: image.identity.wwid, sizeBytes: 33_554_432 },
      checks: { wrongChap: false, writeRefused: true, decryptSample: false, multipath: true },
      chap: { user: 'capture', password: 'not-the-captured-one' },
      onServer: (_server, work) => work(),
    },
  );
  return { sent, failed: verdict.failed };
}

describe('open-iscsi driver on captured login failures', () => {
  it('fails the login on both servers with iscsiadm\'s reason for a wrong CHAP secret, after a record for the forwarded portal', async () => {
    const { sent, failed } = await check(a, ['discovery.lio', 'discovery.tgt', 'login.lio-wrong-chap', 'login.tgt-wrong-chap']);
    const refusal = /^the target refused the login: wrong CHAP credentials, or this node is not in the target's ACL \(iscsiadm exit 24: initiator reported error \(24 - iSCSI login failed due to authorization failure\)\)$/;
    expect(failed).toEqual(['lio', 'tgt'].map((server) => ({ check: 'login', server, message: expect.stringMatching(refusal) })));
    // Discovery answered 10.0.2.15 and 127.0.0.47, which the node cannot reach: it logs in where it was told.
    expect(sent).toEqual(expect.arrayContaining(Object.values(portals).map((portal) => `iscsiadm -m node -T ${a.targetIqn} -p ${portal} -o new`)));
  });

  it('fails a node outside the ACL at the login on LIO (LIO says what it says for a wrong secret: the verdict names both causes), and at discovery on tgt', async () => {
    const { failed } = await check(b, ['discovery.lio-outside-acl', 'discovery.tgt-outside-acl', 'login.lio-outside-acl']);
    expect(failed).toEqual([
      { check: 'login', server: 'lio', message: expect.stringContaining("wrong CHAP credentials, or this node is not in the target's ACL") },
      { check: 'discovery', server: 'tgt', message: `${portals.tgt} does not list ${b.targetIqn} (listed: ${a.targetIqn})` },
    ]);
    const wrongChap = await check(a, ['discovery.lio', 'discovery.tgt', 'login.lio-wrong-chap', 'login.tgt-wrong-chap']);
    expect(failed[0].message.replaceAll(b.targetIqn, a.targetIqn)).toBe(wrongChap.failed[0].message);
  });
});
