import { describe, expect, it } from 'vitest';
import { paramTokens, rewriteBootFields, splitParams, type BootChange } from '../../lib/bootParams';
import { UpdateBootParametersSpec } from '../../lib/specs/bootParamsSpec';

const oldId = '1dbb777c-2527-449b-bd6d-fb4d1cb79e88';
const newId = '9f2c1e44-0b7a-4c11-8d3e-52c0a6d1f7b0';
const newEtag = 'c7a4f6c2d0e0b1a9f6e5d4c3b2a19080-12';

const change: BootChange = {
  image: {
    imageId: newId,
    manifestPath: `s3://boot-images/${newId}/manifest.json`,
    kernel: `s3://boot-images/${newId}/kernel`,
    initrd: `s3://boot-images/${newId}/initrd`,
    rootfs: { path: `s3://boot-images/${newId}/rootfs`, etag: newEtag },
  },
};

const oldFields = (params: string) => ({ kernel: `s3://boot-images/${oldId}/kernel`, initrd: `s3://boot-images/${oldId}/initrd`, params });

// A compute node's params as CSM writes them (BOS/SBPS), with an image id in tokens that do not boot it.
const computeParams =
  `console=ttyS0,115200 bad_page=panic crashkernel=360M hugepagelist=2m-2g intel_iommu=off iommu=pt numa_interleave_omit=headless ` +
  `oops=panic pageblock_order=14 rd.neednet=1 rd.retry=10 rd.shell ip=dhcp quiet ` +
  `root=sbps-s3:s3://boot-images/${oldId}/rootfs:0f3e9c5d8b7a6f5e4d3c2b1a09f8e7d6-7:sbps:v1:iqn.2023-06.csm.iscsi:_sbps-hsn._tcp.example.com:300 ` +
  `nmd_data=url=s3://boot-images/${oldId}/rootfs,etag=0f3e9c5d8b7a6f5e4d3c2b1a09f8e7d6-7 bos_session_id=e0131663 ` +
  `spire_join_token=\${SPIRE_JOIN_TOKEN} rd.live.squashimg=${oldId}.squashfs`;

// An NCN's params (seed 002): metal.server, per-node interface names, a quoted value.
const ncnParams =
  `biosdevname=1 pcie_ports=native transparent_hugepage=never console=tty0 console=ttyS0,115200 iommu=pt ` +
  `metal.server=s3://boot-images/${oldId}/rootfs metal.no-wipe=1 ds=nocloud-net;s=http://10.92.100.81:8888/ ` +
  `rootfallback=LABEL=BOOTRAID initrd=initrd.img.xz root=live:LABEL=SQFSRAID rd.live.ram=0 rd.writable.fsimg=0 ` +
  `rd.skipfsck rd.live.squashimg=filesystem.squashfs ifname=mgmt0:b8:59:9f:fe:49:d4 ip=mgmt0:dhcp ` +
  `hostname=ncn-w001 rd.cmdline="ask quiet" xname=x3000c0s7b0n0`;

describe('params tokens', () => {
  it('splits at whitespace outside double quotes and keeps the separators', () => {
    const params = '  a=1   b="x y  z" "c=d e" f  ';
    expect(paramTokens(params)).toEqual(['a=1', 'b="x y  z"', '"c=d e"', 'f']);
    const { parts, trailing } = splitParams(params);
    expect(parts.map((p) => p.separator + p.token).join('') + trailing).toBe(params);
  });
});

describe('rewriteBootFields', () => {
  it('compute node: rewrites root=sbps-s3 path and etag, keeps its trailing fields and every other token in place', () => {
    const { entry, diff, problems } = rewriteBootFields(oldFields(computeParams), change);
    expect(problems).toEqual([]);
    expect(entry.kernel).toBe(change.image.kernel);
    expect(entry.initrd).toBe(change.image.initrd);
    const before = paramTokens(computeParams);
    const after = paramTokens(entry.params);
    expect(after).toHaveLength(before.length);
    const changedAt = before.flatMap((token, i) => (token !== after[i] ? [i] : []));
    expect(changedAt).toHaveLength(1);
    expect(after[changedAt[0]]).toBe(`root=sbps-s3:s3://boot-images/${newId}/rootfs:${newEtag}:sbps:v1:iqn.2023-06.csm.iscsi:_sbps-hsn._tcp.example.com:300`);
    // Tokens that only mention the old image id are not ours to change.
    expect(entry.params).toContain(`nmd_data=url=s3://boot-images/${oldId}/rootfs`);
    expect(entry.params).toContain(`rd.live.squashimg=${oldId}.squashfs`);
    expect(diff).toEqual({
      kernel: { before: `s3://boot-images/${oldId}/kernel`, after: change.image.kernel },
      initrd: { before: `s3://boot-images/${oldId}/initrd`, after: change.image.initrd },
      params: { before: [before[changedAt[0]]], after: [after[changedAt[0]]] },
    });
  });

  it('compute node on CPS: rewrites root=craycps-s3 the same way', () => {
    const params = `root=craycps-s3:s3://boot-images/${oldId}/rootfs:abc123-2:dvs:api-gw-service-nmn.local:300:nmn0 quiet`;
    expect(rewriteBootFields(oldFields(params), change).entry.params).toBe(`root=craycps-s3:s3://boot-images/${newId}/rootfs:${newEtag}:dvs:api-gw-service-nmn.local:300:nmn0 quiet`);
  });

  it('NCN: rewrites metal.server only; root=live:, quoted values, interface names stay byte for byte', () => {
    const { entry, diff, problems } = rewriteBootFields(oldFields(ncnParams), change);
    expect(problems).toEqual([]);
    expect(entry.params).toBe(ncnParams.replace(`metal.server=s3://boot-images/${oldId}/rootfs`, `metal.server=${change.image.rootfs.path}`));
    expect(diff.params).toEqual({ before: [`metal.server=s3://boot-images/${oldId}/rootfs`], after: [`metal.server=${change.image.rootfs.path}`] });
  });

  it('rewrites every occurrence of a repeated key and keeps a quoted value quoted', () => {
    const params = `metal.server="s3://boot-images/${oldId}/rootfs" quiet "metal.server=s3://boot-images/${oldId}/rootfs" quiet`;
    const { entry } = rewriteBootFields(oldFields(params), change);
    expect(entry.params).toBe(`metal.server="${change.image.rootfs.path}" quiet "metal.server=${change.image.rootfs.path}" quiet`);
  });

  it('sets our iSCSI + LUKS parameters: replaced where present, appended where absent, before a bare --', () => {
    const iscsi = {
      targets: [
        { iqn: 'iqn.2023-06.csm.iscsi:iscsi1', address: '10.1.0.5', port: 3260 },
        { iqn: 'iqn.2023-06.csm.iscsi:iscsi2', address: '10.1.0.6', port: 3260 },
      ],
      lunWwid: '36001405a1b2c3d4e5f60718293a4b5c6',
      chapRef: 'chap/ocean-2026',
      luksKeyRef: 'vault:boot-images/ocean-2026',
    };
    const params = `root=sbps-s3:s3://boot-images/${oldId}/rootfs:e1:sbps:v1 bootimg.lun.wwid=36001405000000000000000000000000 quiet -- single`;
    const { entry, diff } = rewriteBootFields(oldFields(params), { ...change, iscsi });
    expect(paramTokens(entry.params)).toEqual([
      `root=sbps-s3:${change.image.rootfs.path}:${newEtag}:sbps:v1`,
      'bootimg.lun.wwid=36001405a1b2c3d4e5f60718293a4b5c6',
      'quiet',
      'bootimg.iscsi.targets=iqn.2023-06.csm.iscsi:iscsi1@10.1.0.5:3260,iqn.2023-06.csm.iscsi:iscsi2@10.1.0.6:3260',
      'bootimg.iscsi.chap=chap/ocean-2026',
      'bootimg.luks.key=vault:boot-images/ocean-2026',
      '--',
      'single',
    ]);
    expect(diff.params.after).toContain('bootimg.luks.key=vault:boot-images/ocean-2026');
    // Idempotent: rewriting the result again changes nothing.
    const again = rewriteBootFields(entry, { ...change, iscsi });
    expect(again.entry).toEqual(entry);
    expect(again.diff).toEqual({ params: { before: [], after: [] } });
  });

  it('leaves tokens after a bare -- (init arguments) alone', () => {
    const params = `metal.server=s3://x/old/rootfs -- metal.server=s3://x/old/rootfs`;
    expect(rewriteBootFields(oldFields(params), change).entry.params).toBe(`metal.server=${change.image.rootfs.path} -- metal.server=s3://x/old/rootfs`);
  });

  it('reports a problem when nothing names the rootfs, or root= cannot be read', () => {
    expect(rewriteBootFields(oldFields('console=ttyS0 root=live:LABEL=SQFSRAID quiet'), change).problems).toEqual([
      'no token names the rootfs (metal.server=, root=sbps-s3:..., root=craycps-s3:..., or bootimg.lun.wwid= from an export)',
    ]);
    // The project's own initramfs hook boots the LUN with that WWID: the WWID names the rootfs.
    const ownRoot = rewriteBootFields(oldFields('console=ttyS0 quiet'), { ...change, iscsi: { lunWwid: '36001405a1b2c3d4e5f60718293a4b5c6' } });
    expect(ownRoot.problems).toEqual([]);
    expect(ownRoot.entry.params).toBe('console=ttyS0 quiet bootimg.lun.wwid=36001405a1b2c3d4e5f60718293a4b5c6');
    expect(rewriteBootFields(oldFields('root=sbps-s3:/not/s3:etag quiet'), change).problems[0]).toMatch(/not <provider>:s3:\/\/<path>:<etag>/);
  });

  it('builds from empty params (a host to create), appending with single spaces', () => {
    const { entry } = rewriteBootFields({ kernel: '', initrd: '', params: '' }, { ...change, iscsi: { lunWwid: '36001405a1b2c3d4e5f60718293a4b5c6' } });
    expect(entry.params).toBe('bootimg.lun.wwid=36001405a1b2c3d4e5f60718293a4b5c6');
  });
});

describe('UpdateBootParametersSpec', () => {
  const base = { manifestPath: `s3://boot-images/${newId}/manifest.json` };

  it('expands ClusterShell node sets, in order, without duplicates', () => {
    const spec = UpdateBootParametersSpec.parse({ ...base, nodes: ['x3000c0s[1-3]b0n0', 'x3000c0s2b0n0,x1000c1s0b0n[0-1]'] });
    expect(spec.nodes).toEqual(['x3000c0s1b0n0', 'x3000c0s2b0n0', 'x3000c0s3b0n0', 'x1000c1s0b0n0', 'x1000c1s0b0n1']);
    expect(spec).toMatchObject({ canarySize: 1, batchSize: 100, missingHosts: 'refuse', dryRun: false, approval: { required: false } });
  });

  it('lists every problem at once', () => {
    const parsed = UpdateBootParametersSpec.safeParse({ nodes: 'nid[001-002],x3000c0s1b0n0', imageId: 'a', manifestPath: 's3://boot-images/a/manifest.json', missingHosts: 'create', iscsi: { luksKeyRef: 'key with spaces' } });
    expect(parsed.success).toBe(false);
    const messages = parsed.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^nodes: not node xnames .*nid001, nid002/),
        expect.stringMatching(/^iscsi.luksKeyRef: /),
      ]),
    );
  });

  it('refuses an empty node set and a create policy without baseParams', () => {
    expect(UpdateBootParametersSpec.safeParse({ ...base, nodes: [] }).error!.issues[0].message).toBe('the node set is empty');
    const noBase = UpdateBootParametersSpec.safeParse({ ...base, nodes: 'x3000c0s1b0n0', missingHosts: 'create' });
    expect(noBase.error!.issues.map((i) => i.message)).toEqual(['missingHosts "create" needs baseParams: the params new entries start from']);
  });
});
