import { describe, expect, it } from 'vitest';
import { lunIdentity, marshalTargetIqn } from '../../lib/lunIdentity';
import { preferredSbpsLun } from '../../lib/exportLayout';
import { planExport, planRemoval, planTarget, type LioExportRequest } from '../../activities/lio/plan';
import { emptyLioState, parseSaveconfig, type LioState } from '../../activities/lio/saveconfig';
import { createLioDriver } from '../../activities/lio/driver';
import type { CommandRunner, RunOptions } from '../../activities/export/commandRunner';
import type { SecretResolver } from '../../activities/export/secrets';

// Golden targetcli command lists. targetcli cannot run on this host (no configfs), so these are checked
// against targetcli-fb's command signatures and the SBPS marshal's naming, not against a live LIO.
const identity = lunIdentity({ linkPath: 's3://boot-images/1fb58f4e-ad23-489b-89b7-95868fca7ee6/rootfs', linkEtag: '9a3c5b6f8e0f2d1c4b7a6e5d3c2b1a09-12' });
const iqn = 'iqn.2023-06.csm.iscsi:image.compute-2026-11';
const sharedIqn = marshalTargetIqn('iscsi1');
const tpg = `/iscsi/${iqn}/tpg1`;
const saveconfigPath = '/etc/target/saveconfig.json';
const request: LioExportRequest = {
  identity,
  placement: { layout: 'per-image', targetIqn: iqn },
  backingFile: '/var/cache/boot-images/3e04cfcd5cc397ce18a5be702f438a3.img',
  targetIqn: iqn,
  initiators: ['iqn.2026-01.org.site:ocean1', 'iqn.2026-01.org.site:ocean2'],
  chap: { user: 'compute', password: 'chap-secret-1', mutual: { user: 'target', password: 'chap-secret-2' } },
  portals: [{ address: '10.1.0.5', port: 3260 }],
  saveconfigPath,
};

/** What rtslib-fb dumps right after `/iscsi create <iqn>` with targetcli's defaults. */
const afterTargetCreate = targetJustCreated(iqn);
function targetJustCreated(wwn: string) {
  return {
  storage_objects: [] as any[],
  targets: [
    {
      fabric: 'iscsi',
      wwn,
      tpgs: [
        {
          tag: 1,
          enable: true,
          attributes: { authentication: 0, cache_dynamic_acls: 0, demo_mode_write_protect: 1, generate_node_acls: 0, prod_mode_write_protect: 0 },
          luns: [],
          node_acls: [],
          portals: [{ ip_address: '0.0.0.0', port: 3260, iser: false, offload: false }],
        },
      ],
    },
  ],
  };
}

/** The same server once the export is complete (what saveconfig would write after the golden commands). */
function exported(overrides: { mappedWriteProtect?: boolean; mappedIndex?: number } = {}) {
  const chap = { chap_userid: 'compute', chap_password: 'chap-secret-1', chap_mutual_userid: 'target', chap_mutual_password: 'chap-secret-2' };
  return {
    storage_objects: [{ name: identity.backstoreName, plugin: 'fileio', dev: request.backingFile, size: 1048576, write_back: false, wwn: identity.serial }],
    targets: [
      {
        fabric: 'iscsi',
        wwn: iqn,
        tpgs: [
          {
            tag: 1,
            enable: true,
            attributes: { authentication: 1, cache_dynamic_acls: 0, demo_mode_write_protect: 1, generate_node_acls: 0, prod_mode_write_protect: 1 },
            luns: [{ index: 1, storage_object: `/backstores/fileio/${identity.backstoreName}` }],
            node_acls: ['ocean1', 'ocean2'].map((node) => ({
              node_wwn: `iqn.2026-01.org.site:${node}`,
              mapped_luns: [{ index: overrides.mappedIndex ?? 1, tpg_lun: 1, write_protect: overrides.mappedWriteProtect ?? true }],
              ...chap,
            })),
            portals: [{ ip_address: '10.1.0.5', port: 3260 }],
          },
        ],
      },
    ],
  };
}

const state = (json: unknown): LioState => parseSaveconfig(JSON.stringify(json));

describe('LIO plan: the targetcli commands for an export', () => {
  it('fresh server: creates the target, then backstore, attributes, LUN, ACLs with read-only mappings, CHAP, portals, saveconfig', () => {
    expect(planTarget(emptyLioState, iqn)).toEqual([{ args: ['/iscsi', 'create', iqn] }]);
    const plan = planExport(state(afterTargetCreate), request);
    expect(plan.commands).toEqual([
      {
        args: ['/backstores/fileio', 'create', 'name=3e04cfcd5cc397c', `file_or_dev=${request.backingFile}`, 'write_back=false', 'wwn=3e04cfcd5cc397ce18a5be702f438a3'],
      },
      { args: [tpg, 'set', 'attribute', 'prod_mode_write_protect=1', 'authentication=1'] },
      { args: [`${tpg}/luns`, 'create', '/backstores/fileio/3e04cfcd5cc397c', 'lun=1', 'add_mapped_luns=false'] },
      { args: [`${tpg}/acls`, 'create', 'iqn.2026-01.org.site:ocean1', 'add_mapped_luns=false'] },
      { args: [`${tpg}/acls/iqn.2026-01.org.site:ocean1`, 'create', 'mapped_lun=1', 'tpg_lun_or_backstore=1', 'write_protect=1'] },
      {
        args: [`${tpg}/acls/iqn.2026-01.org.site:ocean1`, 'set', 'auth', 'userid=compute', 'password=chap-secret-1', 'mutual_userid=target', 'mutual_password=chap-secret-2'],
        sensitive: true,
      },
      { args: [`${tpg}/acls`, 'create', 'iqn.2026-01.org.site:ocean2', 'add_mapped_luns=false'] },
      { args: [`${tpg}/acls/iqn.2026-01.org.site:ocean2`, 'create', 'mapped_lun=1', 'tpg_lun_or_backstore=1', 'write_protect=1'] },
      {
        args: [`${tpg}/acls/iqn.2026-01.org.site:ocean2`, 'set', 'auth', 'userid=compute', 'password=chap-secret-1', 'mutual_userid=target', 'mutual_password=chap-secret-2'],
        sensitive: true,
      },
      { args: [`${tpg}/portals`, 'delete', '0.0.0.0', '3260'] },
      { args: [`${tpg}/portals`, 'create', '10.1.0.5', '3260'] },
      { args: ['saveconfig', `savefile=${saveconfigPath}`] },
    ]);
    expect(plan).toMatchObject({ tpgLun: 1, createdLun: true });
  });

  it('repeated export: nothing to do', () => {
    expect(planTarget(state(exported()), iqn)).toEqual([]);
    expect(planExport(state(exported()), request)).toEqual({ commands: [], tpgLun: 1, createdLun: false, changes: [] });
  });

  it('a changed CHAP password is set again (through stdin), nothing else', () => {
    const plan = planExport(state(exported()), { ...request, chap: { ...request.chap!, password: 'rotated-secret' } });
    expect(plan.commands.filter((c) => !c.sensitive)).toEqual([{ args: ['saveconfig', `savefile=${saveconfigPath}`] }]);
    expect(plan.commands.filter((c) => c.sensitive)).toHaveLength(2);
  });

  it('a writable mapping is replaced by a read-only one; an ACL whose mapped index differs from the TPG LUN is kept', () => {
    const writable = planExport(state(exported({ mappedWriteProtect: false, mappedIndex: 7 })), { ...request, initiators: ['iqn.2026-01.org.site:ocean1', 'iqn.2026-01.org.site:ocean2'] });
    expect(writable.commands.slice(0, 2)).toEqual([
      { args: [`${tpg}/acls/iqn.2026-01.org.site:ocean1`, 'delete', '7'] },
      { args: [`${tpg}/acls/iqn.2026-01.org.site:ocean1`, 'create', 'mapped_lun=1', 'tpg_lun_or_backstore=1', 'write_protect=1'] },
    ]);
    expect(planExport(state(exported({ mappedIndex: 7 })), request).commands).toEqual([]);
  });

  it('a per-image target keeps exactly the ACLs asked for: a node dropped from the set loses its ACL', () => {
    const plan = planExport(state(exported()), { ...request, initiators: ['iqn.2026-01.org.site:ocean1'] });
    expect(plan.commands).toEqual([{ args: [`${tpg}/acls`, 'delete', 'iqn.2026-01.org.site:ocean2'] }, { args: ['saveconfig', `savefile=${saveconfigPath}`] }]);
  });

  it('sbps: adopts the backstore the SBPS marshal made for the same artifact on its shared target, open and without CHAP', () => {
    const marshal = exported();
    marshal.targets[0].wwn = sharedIqn;
    marshal.storage_objects[0].dev = '/var/lib/cps-local/boot-images/1fb58f4e-ad23-489b-89b7-95868fca7ee6/rootfs';
    const plan = planExport(state(marshal), { ...request, placement: { layout: 'sbps' }, targetIqn: sharedIqn, initiators: 'generate-node-acls', chap: undefined });
    expect(plan.createdLun).toBe(false);
    expect(plan.commands).toEqual([
      { args: [`/iscsi/${sharedIqn}/tpg1`, 'set', 'attribute', 'generate_node_acls=1', 'cache_dynamic_acls=1', 'authentication=0'] },
      { args: ['saveconfig', `savefile=${saveconfigPath}`] },
    ]);
  });

  it('sbps: a new image takes the LUN its digest asks for, or the next free one; never the lowest free', () => {
    const shared = state(targetJustCreated(sharedIqn));
    const sbps = { ...request, placement: { layout: 'sbps' as const }, targetIqn: sharedIqn, initiators: 'generate-node-acls' as const, chap: undefined };
    const preferred = preferredSbpsLun(identity);
    expect(planExport(shared, sbps).tpgLun).toBe(preferred);
    const taken = targetJustCreated(sharedIqn);
    taken.storage_objects = [{ name: 'otherimage00000', plugin: 'fileio', dev: '/var/cache/other.img', size: 1, wwn: 'ffff' }];
    (taken.targets[0].tpgs[0].luns as unknown[]) = [{ index: preferred, storage_object: '/backstores/fileio/otherimage00000' }];
    expect(planExport(state(taken), sbps).tpgLun).toBe(preferred === 255 ? 1 : preferred + 1);
  });

  it('per-image with generate_node_acls and CHAP sets the credentials on its own TPG only', () => {
    const plan = planExport(state(afterTargetCreate), { ...request, initiators: 'generate-node-acls' });
    expect(plan.commands).toContainEqual({
      args: [tpg, 'set', 'auth', 'userid=compute', 'password=chap-secret-1', 'mutual_userid=target', 'mutual_password=chap-secret-2'],
      sensitive: true,
    });
    expect(plan.commands).toContainEqual({ args: [tpg, 'set', 'attribute', 'prod_mode_write_protect=1', 'generate_node_acls=1', 'cache_dynamic_acls=1', 'authentication=1'] });
    expect(plan.commands.every((c) => !c.args[0].startsWith('/iscsi/') || c.args[0].startsWith(`/iscsi/${iqn}/`))).toBe(true);
  });

  it('two images on one server: each plan touches only its own target; B on A\'s target is refused', () => {
    const other = lunIdentity({ linkPath: 's3://boot-images/0d0b5a02-3f4e-4a3c-9e4e-5b3c8f1e2d10/rootfs', linkEtag: '0f0e0d0c0b0a09080706050403020100-3' });
    const iqnB = 'iqn.2023-06.csm.iscsi:image.compute-b';
    const both = exported();
    both.targets.push(targetJustCreated(iqnB).targets[0]);
    const planB = planExport(state(both), { ...request, identity: other, placement: { layout: 'per-image', targetIqn: iqnB }, targetIqn: iqnB, backingFile: '/var/cache/b.img', initiators: ['iqn.2026-01.org.site:ocean9'] });
    const paths = planB.commands.map((c) => c.args[0]).filter((p) => p.startsWith('/iscsi/'));
    expect(paths.length).toBeGreaterThan(0);
    expect(paths.every((p) => p.startsWith(`/iscsi/${iqnB}/`))).toBe(true);
    expect(() => planExport(state(both), { ...request, identity: other, backingFile: '/var/cache/b.img' })).toThrow(/already exports another artifact/);
  });

  it('refuses a backstore name or file already used by another identity', () => {
    const clash = exported();
    clash.storage_objects[0].wwn = 'another-serial';
    expect(() => planExport(state(clash), request)).toThrow(/already uses the name 3e04cfcd5cc397c/);
  });

  it('refuses a target that exists without tpg1 (the yast sample layout)', () => {
    const tag5 = state({ targets: [{ fabric: 'iscsi', wwn: iqn, tpgs: [{ tag: 5 }] }] });
    expect(() => planTarget(tag5, iqn)).toThrow(/exists without tpg1/);
  });

  it('removal deletes the image\'s own target and its backstore, never the shared target or another image\'s', () => {
    const withShared = exported();
    const shared = targetJustCreated(sharedIqn).targets[0];
    (shared.tpgs[0].luns as unknown[]) = [{ index: 1, storage_object: `/backstores/fileio/${identity.backstoreName}` }, { index: 2, storage_object: '/backstores/fileio/otherimage00000' }];
    withShared.targets.push(shared, targetJustCreated('iqn.2023-06.csm.iscsi:image.other').targets[0]);
    const removal = { identity, sharedIqn, saveconfigPath };
    expect(planRemoval(state(withShared), removal)).toEqual([
      { args: ['/iscsi', 'delete', iqn] },
      { args: ['/backstores/fileio', 'delete', '3e04cfcd5cc397c'] },
      { args: ['saveconfig', `savefile=${saveconfigPath}`] },
    ]);
    expect(planRemoval(state(targetJustCreated(sharedIqn)), removal)).toEqual([]);
  });

  it('removal after a failed export also deletes the image\'s target left without its LUN', () => {
    expect(planRemoval(state(afterTargetCreate), { identity, sharedIqn, saveconfigPath, targetIqn: iqn })).toEqual([
      { args: ['/iscsi', 'delete', iqn] },
      { args: ['saveconfig', `savefile=${saveconfigPath}`] },
    ]);
  });
});

describe('LIO driver over a scripted command runner', () => {
  /** Plays targetcli: each script containing saveconfig "writes" the next prepared state; records what ran. */
  function scriptedServer(states: unknown[]) {
    const calls: { argv: string[]; options?: RunOptions }[] = [];
    let current = 0;
    const runner: CommandRunner = {
      where: 'iscsi1',
      async run(argv, options) {
        calls.push({ argv, options });
        if (argv[0] === 'cat') {
          if (states[current] === undefined) throw new Error(`cat: ${argv[1]}: No such file or directory`);
          return { stdout: JSON.stringify(states[current]) };
        }
        if (argv[0] === 'stat') return { stdout: '1048576\n' };
        if (String(options?.input ?? '').includes('saveconfig')) current = Math.min(current + 1, states.length - 1);
        return { stdout: '' };
      },
    };
    return { runner, calls };
  }
  const secrets: SecretResolver = { resolve: async (ref) => ({ 'chap/user': 'compute', 'chap/password': 'chap-secret-1' })[ref]! };
  const spec = {
    identity,
    placement: request.placement,
    backingFile: request.backingFile,
    sizeBytes: 1048576,
    initiators: ['iqn.2026-01.org.site:ocean1'],
    portals: request.portals,
    chap: { userRef: 'chap/user', secretRef: 'chap/password' },
  };
  const oneAcl = () => {
    const json = exported();
    json.targets[0].tpgs[0].node_acls = [{ ...json.targets[0].tpgs[0].node_acls[0], chap_mutual_userid: '', chap_mutual_password: '' }];
    return json;
  };
  const targetcliCalls = (calls: { argv: string[]; options?: RunOptions }[]) => calls.filter((c) => c.argv[0] === 'targetcli');

  it('fresh export: every command through the stdin of one targetcli, never in argv, verified from the saved file', async () => {
    const { runner, calls } = scriptedServer([undefined, afterTargetCreate, oneAcl()]);
    const driver = createLioDriver({ server: 'iscsi1', runner, secrets, saveconfigPath });
    const result = await driver.ensureExport(spec);
    expect(result).toMatchObject({ layout: 'per-image', iqn, lun: 1, created: true, serial: identity.serial, wwid: identity.wwid });
    const [createTarget, exportCommands] = targetcliCalls(calls);
    expect(createTarget.argv).toEqual(['targetcli']);
    expect(createTarget.options?.input).toBe(`/iscsi create ${iqn}\nsaveconfig savefile=${saveconfigPath}\nexit\n`);
    expect(exportCommands.argv).toEqual(['targetcli']);
    expect(exportCommands.options?.input).toContain(`${tpg}/acls/iqn.2026-01.org.site:ocean1 set auth userid=compute password=chap-secret-1\n`);
    expect(String(exportCommands.options?.input).endsWith(`saveconfig savefile=${saveconfigPath}\nexit\n`)).toBe(true);
    expect(exportCommands.options?.secrets).toEqual(['chap-secret-1']);
  });

  it('repeated export runs no targetcli at all', async () => {
    const { runner, calls } = scriptedServer([oneAcl()]);
    const result = await createLioDriver({ server: 'iscsi1', runner, secrets, saveconfigPath }).ensureExport(spec);
    expect(result).toMatchObject({ created: false, changes: [] });
    expect(calls.map((c) => c.argv[0])).toEqual(['cat']);
  });

  it('fails when the saved state does not show the export afterwards', async () => {
    const { runner } = scriptedServer([afterTargetCreate, afterTargetCreate]);
    await expect(createLioDriver({ server: 'iscsi1', runner, secrets, saveconfigPath }).ensureExport(spec)).rejects.toThrow(/does not show the export/);
  });

  it('lists fileio exports and removes one with its per-image target', async () => {
    const { runner, calls } = scriptedServer([oneAcl(), { storage_objects: [], targets: [] }]);
    const driver = createLioDriver({ server: 'iscsi1', runner, secrets, saveconfigPath });
    expect(await driver.listExports()).toEqual([{ iqn, lun: 1, serial: identity.serial, backingFile: request.backingFile, sizeBytes: 1048576, readonly: true }]);
    expect(await driver.removeExport({ identity })).toMatchObject({ removed: true });
    expect(targetcliCalls(calls).map((c) => c.options?.input)).toEqual([`/iscsi delete ${iqn}\n/backstores/fileio delete ${identity.backstoreName}\nsaveconfig savefile=${saveconfigPath}\nexit\n`]);
  });

  it('restores the saved configuration the way target.service does', async () => {
    const { runner, calls } = scriptedServer([oneAcl()]);
    const restored = await createLioDriver({ server: 'iscsi1', runner, secrets, saveconfigPath }).restoreConfig();
    expect(restored).toEqual({ server: 'iscsi1', restored: [`${iqn} LUN 1 (${identity.backstoreName})`], failed: [] });
    expect(targetcliCalls(calls).map((c) => c.argv)).toEqual([['targetcli', 'restoreconfig', `savefile=${saveconfigPath}`, 'clear_existing=true']]);
  });
});
