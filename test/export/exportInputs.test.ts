// What reaches targetcli and tgtadm is checked at the boundary: the workflow's spec and the agent's
// activity input refuse anything outside the iSCSI, address and reference forms, before anything runs.
import { describe, expect, it } from 'vitest';
import { ExportInput } from '../../activities/export/inputs';
import { ExportSpec, layoutOf } from '../../lib/specs/exportSpec';
import { issueLines } from '../../lib/parseInput';

const base = { imageId: 'img-1', servers: [{ name: 'iscsi1' }], initiators: 'generate-node-acls' };
const issuesOf = (raw: unknown) => {
  const parsed = ExportSpec.safeParse(raw);
  return parsed.success ? [] : issueLines(parsed.error);
};

describe('export spec: names that reach the target tools', () => {
  it.each([
    ['a newline in an initiator IQN', { initiators: ['iqn.2026-01.org.site:node1\nsaveconfig'] }, /initiators.0: .* is not an iSCSI name/],
    ['a space in an initiator IQN', { initiators: ['iqn.2026-01.org.site:node 1'] }, /initiators.0: .* is not an iSCSI name/],
    ['upper case in an IQN', { initiators: ['iqn.2026-01.org.Site:node1'] }, /upper-case/],
    ['a shell metacharacter in the IQN pattern', { initiators: { nodes: 'nid[1-2]', iqnPattern: 'iqn.2026-01.org.site:{node};reboot' } }, /iqnPattern: 2 of 2 node IQN\(s\) are invalid/],
    ['a node set that does not parse', { initiators: { nodes: 'nid[1-', iqnPattern: 'iqn.2026-01.org.site:{node}' } }, /initiators.nodes: invalid node set/],
    ['a node name that makes an invalid IQN', { initiators: { nodes: 'Nid[1-2],nid3', iqnPattern: 'iqn.2026-01.org.site:{node}' } }, /iqnPattern: 2 of 3 node IQN\(s\) are invalid, e.g. .*upper-case/],
    ['a portal address with a command', { servers: [{ name: 'iscsi1', portals: [{ address: '10.0.0.1; rm -rf /', port: 3260 }] }] }, /servers.0.portals.0.address: .* is not an IPv4 or IPv6 address/],
    ['a secret reference that is a path', { chap: { userRef: '/etc/shadow', secretRef: 'chap/secret' }, layout: 'per-image' }, /chap.userRef: secret reference "\/etc\/shadow"/],
    ['a secret reference going up', { chap: { userRef: 'chap/user', secretRef: '../secret' }, layout: 'per-image' }, /chap.secretRef: secret reference/],
    ['a server name with a space', { servers: [{ name: 'iscsi 1' }] }, /servers.0.name: a host name/],
    ['a target name with an underscore', { targetName: 'compute_img' }, /targetName: "compute_img" is not usable/],
    ['a target prefix that is not an IQN', { targetPrefix: 'target-' }, /targetPrefix: "target-" is not an IQN prefix/],
  ])('refuses %s', (_what, change, message) => {
    expect(issuesOf({ ...base, ...change }).join('\n')).toMatch(message);
  });

  it('refuses ACLs or CHAP in the sbps layout, with the reason', () => {
    expect(issuesOf({ ...base, layout: 'sbps', initiators: ['iqn.2026-01.org.site:node1'] })).toEqual([
      expect.stringMatching(/^layout: the sbps layout is the SBPS marshal's open target, shared by every image on the server: ACLs or CHAP there would change who reaches every other image/),
    ]);
    expect(issuesOf({ ...base, layout: 'sbps', chap: { userRef: 'chap/user', secretRef: 'chap/secret' } })).toHaveLength(1);
    expect(issuesOf({ ...base, layout: 'sbps', targetName: 'compute' })).toEqual([expect.stringMatching(/^targetName: targetName names a per-image target/)]);
  });

  it('defaults to per-image whenever ACLs or CHAP are asked for, else to sbps', () => {
    expect(layoutOf(ExportSpec.parse(base))).toBe('sbps');
    expect(layoutOf(ExportSpec.parse({ ...base, initiators: { nodes: 'nid[1-3]', iqnPattern: 'iqn.2026-01.org.site:{node}' } }))).toBe('per-image');
    expect(layoutOf(ExportSpec.parse({ ...base, chap: { userRef: 'chap/user', secretRef: 'chap/secret' } }))).toBe('per-image');
    expect(layoutOf(ExportSpec.parse({ ...base, layout: 'per-image' }))).toBe('per-image');
  });

  it('accepts IPv6 and host-name portals, eui. initiators and a site prefix', () => {
    expect(
      issuesOf({
        ...base,
        servers: [{ name: 'iscsi-srv1.site', portals: [{ address: 'fd00::5', port: 3260 }, { address: 'iscsi-srv1.hsn.site' }] }],
        initiators: ['eui.02004567A425678D', 'iqn.2026-01.org.site:ocean1'],
        targetPrefix: 'iqn.2026-01.org.site:',
        targetName: 'compute-2026-12',
      }),
    ).toEqual([]);
  });
});

describe('export activity input: the same checks when an activity is called directly', () => {
  const input = {
    linkPath: 's3://boot-images/x/rootfs',
    linkEtag: 'abc',
    placement: { layout: 'per-image', targetIqn: 'iqn.2023-06.csm.iscsi:image.x' },
    backingFile: '/var/lib/boot-image-agent/cache/abc.img',
    sizeBytes: 1,
    initiators: ['iqn.2026-01.org.site:ocean1'],
    portals: [],
  };
  const issues = (raw: unknown) => {
    const parsed = ExportInput.safeParse(raw);
    return parsed.success ? [] : issueLines(parsed.error);
  };

  it('accepts a well-formed export', () => expect(issues(input)).toEqual([]));
  it('refuses a target IQN with a newline', () => expect(issues({ ...input, placement: { layout: 'per-image', targetIqn: 'iqn.2023-06.csm.iscsi:x\nexit' } }).join()).toMatch(/placement.targetIqn/));
  it('refuses a backing file with a space or a shell word', () => expect(issues({ ...input, backingFile: '/tmp/a b' }).join()).toMatch(/backingFile: an absolute path/));
  it('refuses ACLs on the shared sbps target', () => expect(issues({ ...input, placement: { layout: 'sbps' } }).join()).toMatch(/placement: the sbps layout is open access/));
});
