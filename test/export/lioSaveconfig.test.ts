import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseSaveconfig } from '../../activities/lio/saveconfig';
import { sharedDocument } from '../helpers/sharedDocuments';

// Real saveconfig.json files (GPL, kept outside this repository): see shared/lio-samples/README.md.
const sample = (name: string) => readFileSync(sharedDocument('lio-samples', name), 'utf8');

describe('parseSaveconfig on real rtslib-fb dumps', () => {
  it('yast fixture: one fileio object, TPG tag 5, one ACL whose mapped LUN index (7) differs from its TPG LUN (0)', () => {
    const state = parseSaveconfig(sample('yast-iscsi-lio-server_fixture_saveconfig.json'));
    expect(state.storageObjects).toEqual([
      { name: 'var-tmp-target.raw', plugin: 'fileio', dev: '/var/tmp/target.raw', sizeBytes: 1048576, wwn: '2b3c0c6e-53d4-4b4f-9f96-e177dd02817b' },
    ]);
    const [target] = state.targets;
    expect(target).toMatchObject({ fabric: 'iscsi', wwn: 'iqn.2018-01.suse.com.lszhu.target' });
    const [tpg] = target.tpgs;
    expect(tpg.tag).toBe(5);
    expect(tpg.attributes).toMatchObject({ generate_node_acls: 0, demo_mode_write_protect: 1, prod_mode_write_protect: 0 });
    expect(tpg.luns).toEqual([{ index: 0, storageObject: { plugin: 'fileio', name: 'var-tmp-target.raw' } }]);
    expect(tpg.nodeAcls).toEqual([{ initiator: 'iqn.2018-01.suse.com.lszhu.init', mappedLuns: [{ index: 7, tpgLun: 0, writeProtect: false }], chap: null }]);
    expect(tpg.portals).toEqual([
      { address: '192.168.100.12', port: 1234 },
      { address: '192.168.101.12', port: 1234 },
    ]);
  });

  it('ha-sap QA file: block objects, generate_node_acls, and Salt placeholders kept as opaque strings', () => {
    const state = parseSaveconfig(sample('ha-sap-terraform_qa_saveconfig.json'));
    expect(state.storageObjects.map((so) => [so.name, so.plugin, so.dev, so.sizeBytes])).toEqual([
      ['sde', 'block', "{{ grains['iscsidev'] }}5", null],
      ['sdd', 'block', "{{ grains['iscsidev'] }}4", null],
      ['sdc', 'block', "{{ grains['iscsidev'] }}3", null],
      ['sdb', 'block', "{{ grains['iscsidev'] }}2", null],
      ['sda', 'block', "{{ grains['iscsidev'] }}1", null],
    ]);
    const [tpg] = state.targets[0].tpgs;
    expect(tpg.attributes).toMatchObject({ generate_node_acls: 1, cache_dynamic_acls: 1, demo_mode_write_protect: 0 });
    expect(tpg.nodeAcls).toEqual([]);
    expect(tpg.luns.map((l) => [l.index, l.storageObject.name])).toEqual([[0, 'sda'], [1, 'sdb'], [2, 'sdc'], [3, 'sdd'], [4, 'sde']]);
    expect(tpg.portals).toEqual([{ address: "{{ grains['iscsi_srv_ip'] }}", port: 3260 }]);
  });

  it('tcm-scripts FCoE file: non-iSCSI fabric, TPGs without attributes, unsorted LUNs sorted on read', () => {
    const state = parseSaveconfig(sample('tcm-scripts_fcoe_saveconfig.json'));
    expect(state.targets.map((t) => [t.fabric, t.wwn])).toEqual([
      ['tcm_fc', 'naa.20000cfd3762c308'],
      ['tcm_fc', 'naa.20000cfd3762c307'],
    ]);
    const [tpg] = state.targets[0].tpgs;
    expect(tpg.attributes).toEqual({});
    expect(tpg.portals).toEqual([]);
    expect(tpg.luns.map((l) => l.index)).toEqual([0, 1, 2, 3]);
    expect(tpg.luns[3].storageObject).toEqual({ plugin: 'block', name: 'fcoe_disk_4' });
    expect(tpg.nodeAcls[0]).toMatchObject({ initiator: 'naa.20000cfd37041a1e', chap: null });
    expect(tpg.nodeAcls[0].mappedLuns).toHaveLength(4);
  });

  it('reduces CHAP passwords to fingerprints', () => {
    const state = parseSaveconfig(
      JSON.stringify({
        targets: [{ fabric: 'iscsi', wwn: 'iqn.x:y', tpgs: [{ tag: 1, chap_userid: 'u', chap_password: 'hunter2hunter2', node_acls: [{ node_wwn: 'iqn.a:b', chap_userid: 'v', chap_password: 'p', chap_mutual_userid: 'm', chap_mutual_password: 'q' }] }] }],
      }),
    );
    expect(JSON.stringify(state)).not.toMatch(/hunter2|"p"|"q"/);
    expect(state.targets[0].tpgs[0].chap).toMatchObject({ userid: 'u', mutualUserid: null });
    expect(state.targets[0].tpgs[0].nodeAcls[0].chap).toMatchObject({ userid: 'v', mutualUserid: 'm' });
  });

  it('rejects what is not a saveconfig.json, naming the file', () => {
    expect(() => parseSaveconfig('{', '/etc/target/saveconfig.json on iscsi1')).toThrow(/\/etc\/target\/saveconfig.json on iscsi1 is not an LIO saveconfig.json/);
    expect(() => parseSaveconfig('{"targets": [{"fabric": "iscsi"}]}')).toThrow(/targets.0.wwn/);
  });
});
