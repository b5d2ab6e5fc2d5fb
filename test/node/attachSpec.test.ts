// What the attach phase accepts, alone and in a lifecycle: it pushes what the rollout's boot parameters
// name, so it needs them and a key; CHAP needs both the name the node waits under and the secrets.
import { describe, expect, it } from 'vitest';
import { AttachNodesSpec } from '../../lib/specs/attachSpec';
import { LifecycleSpec } from '../../lib/specs/lifecycleSpec';

const problems = (result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  result.success ? [] : result.error!.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);

const wwid = '36001405caf0a00ff1f366119de5af211';

describe('attach specs', () => {
  it('attachNodes: node xnames, the WWID and key reference, CHAP references with the name the node waits under', () => {
    const ok = AttachNodesSpec.safeParse({ nodes: 'x1000c0s[1-2]b0n0', iscsi: { lunWwid: wwid, luksKeyRef: 'luks-1' } });
    expect(problems(ok)).toEqual([]);
    expect(ok.data).toMatchObject({ nodes: ['x1000c0s1b0n0', 'x1000c0s2b0n0'], waitSeconds: 900, chunkSize: 25 });
    expect(problems(AttachNodesSpec.safeParse({ nodes: 'nid001', iscsi: { lunWwid: 'naa.1234', luksKeyRef: '' }, waitSeconds: 1 }))).toEqual([
      expect.stringMatching(/^waitSeconds: /),
      expect.stringMatching(/^nodes: not node xnames/),
      expect.stringMatching(/^iscsi\.lunWwid: not a SCSI WWID/),
      expect.stringMatching(/^iscsi\.luksKeyRef: a key reference is a name or id/),
    ]);
    expect(problems(AttachNodesSpec.safeParse({ nodes: 'x1000c0s1b0n0', iscsi: { lunWwid: wwid, luksKeyRef: 'luks-1', chapRef: 'chap/node' } }))).toEqual([
      'chap: give iscsi.chapRef (what the node waits for) and chap (where its credentials are) together',
    ]);
  });

  it('lifecycle: attach needs the rollout and a key', () => {
    const base = { name: 'compute', imageId: 'abc' };
    expect(problems(LifecycleSpec.safeParse({ ...base, attach: {} }))).toEqual([
      "attach: attach pushes what the rollout's boot parameters name: give `bootParameters` too",
      'attach: attach pushes the LUKS key the nodes wait for: give `encrypt`, or bootParameters.iscsi.luksKeyRef',
    ]);
    expect(problems(LifecycleSpec.safeParse({ ...base, encrypt: {}, bootParameters: { nodes: 'x1000c0s1b0n0' }, attach: { waitSeconds: 600, nodes: 'x1000c0s1b0n0' } }))).toEqual([]);
  });
});
