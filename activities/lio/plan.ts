// Decides, from the parsed saveconfig.json, which one-shot targetcli commands bring a server to the
// wanted export, and nothing more: a complete export plans no command at all. Pure, so the exact
// command lists are checked by golden tests (targetcli cannot run without configfs on the dev host).
import { lunOf, type ExportPlacement } from '../../lib/exportLayout';
import { FailureType, permanentFailure } from '../../lib/failures';
import { marshalTpgTag, type LunIdentity } from '../../lib/lunIdentity';
import type { Portal } from '../export/driver';
import { sha224Hex } from '../../lib/sha224';
import type { LioChap, LioLun, LioState, LioTarget, LioTpg } from './saveconfig';

/** One targetcli invocation: `targetcli <args...>`, or, when `sensitive`, one line fed to its stdin. */
export interface TargetcliCommand {
  args: string[];
  /** Carries a password: never in argv, never logged (see README.md). */
  sensitive?: boolean;
}

export interface ResolvedChap {
  user: string;
  password: string;
  mutual?: { user: string; password: string };
}

export interface LioExportRequest {
  identity: LunIdentity;
  placement: ExportPlacement;
  backingFile: string;
  /** The sbps target (`iqn.2023-06.csm.iscsi:<host>`) or the image's own. */
  targetIqn: string;
  initiators: string[] | 'generate-node-acls';
  chap?: ResolvedChap;
  portals: Portal[];
  saveconfigPath: string;
}

export interface LioExportPlan {
  commands: TargetcliCommand[];
  tpgLun: number;
  createdLun: boolean;
  changes: string[];
}

const tpgPath = (iqn: string) => `/iscsi/${iqn}/tpg${marshalTpgTag}`;
const anyAddress = '0.0.0.0';

export const saveconfigCommand = (saveconfigPath: string): TargetcliCommand => ({ args: ['saveconfig', `savefile=${saveconfigPath}`] });

export function findTpg(state: LioState, iqn: string): LioTpg | undefined {
  return state.targets.find((t) => t.fabric === 'iscsi' && t.wwn === iqn)?.tpgs.find((tpg) => tpg.tag === marshalTpgTag);
}

/** `/iscsi create` also makes tpg1 (and, by targetcli's default, a 0.0.0.0:3260 portal): run it, save, re-read. */
export function planTarget(state: LioState, iqn: string): TargetcliCommand[] {
  if (findTpg(state, iqn)) return [];
  if (state.targets.some((t) => t.fabric === 'iscsi' && t.wwn === iqn)) {
    throw permanentFailure(FailureType.InvalidInput, `target ${iqn} exists without tpg${marshalTpgTag}; the SBPS layout needs tpg${marshalTpgTag}`);
  }
  return [{ args: ['/iscsi', 'create', iqn] }];
}

export function planExport(state: LioState, request: LioExportRequest): LioExportPlan {
  const { identity, targetIqn, placement } = request;
  const tpg = findTpg(state, targetIqn);
  if (!tpg) throw new Error(`planExport: ${targetIqn} has no tpg${marshalTpgTag}; plan the target first`);
  const commands: TargetcliCommand[] = [];
  const changes: string[] = [];
  const tpgAt = tpgPath(targetIqn);

  // 1. The backstore: reused when one carries this identity's serial (ours or the marshal's).
  const backstore = state.storageObjects.find((so) => so.plugin === 'fileio' && so.wwn === identity.serial);
  if (!backstore) {
    const clash = state.storageObjects.find((so) => so.plugin === 'fileio' && (so.name === identity.backstoreName || so.dev === request.backingFile));
    if (clash) {
      throw permanentFailure(FailureType.InvalidInput, `fileio backstore ${clash.name} (wwn ${clash.wwn}) already uses the name ${identity.backstoreName} or the file ${request.backingFile}`);
    }
    commands.push({
      args: ['/backstores/fileio', 'create', `name=${identity.backstoreName}`, `file_or_dev=${request.backingFile}`, 'write_back=false', `wwn=${identity.serial}`],
    });
    changes.push(`created fileio backstore ${identity.backstoreName} on ${request.backingFile}`);
  }
  const soName = backstore?.name ?? identity.backstoreName;
  const existingLun = tpg.luns.find((l) => l.storageObject.plugin === 'fileio' && l.storageObject.name === soName);
  if (placement.layout === 'per-image') {
    const other = tpg.luns.find((l) => l !== existingLun);
    if (other) throw permanentFailure(FailureType.InvalidInput, `target ${targetIqn} already exports another artifact (${other.storageObject.plugin}/${other.storageObject.name}); remove that export or give this one another targetName`);
  }

  // 2. TPG attributes first: prod_mode_write_protect is applied when a mapped LUN is linked. The sbps
  //    target is open to any initiator without CHAP, whatever an earlier hand-made change set there.
  const open = placement.layout === 'sbps' || request.initiators === 'generate-node-acls';
  const wanted: Record<string, number> = { demo_mode_write_protect: 1, prod_mode_write_protect: 1 };
  if (open) Object.assign(wanted, { generate_node_acls: 1, cache_dynamic_acls: 1 });
  else wanted.generate_node_acls = 0;
  wanted.authentication = request.chap ? 1 : 0;
  const differing = Object.entries(wanted).filter(([key, value]) => Number(tpg.attributes[key] ?? 0) !== value);
  if (differing.length) {
    commands.push({ args: [tpgAt, 'set', 'attribute', ...differing.map(([key, value]) => `${key}=${value}`)] });
    changes.push(`set TPG attributes ${differing.map(([key, value]) => `${key}=${value}`).join(' ')}`);
  }

  // 3. The TPG LUN, numbered from the image (lib/exportLayout.ts); ACL mappings are made below with write_protect=1.
  const tpgLun = existingLun?.index ?? lunOf(placement, identity, tpg.luns.map((l) => l.index));
  if (!existingLun) {
    commands.push({ args: [`${tpgAt}/luns`, 'create', `/backstores/fileio/${soName}`, `lun=${tpgLun}`, 'add_mapped_luns=false'] });
    changes.push(`created LUN ${tpgLun}`);
  }

  // 4. Who may log in, and with which CHAP credentials.
  if (request.initiators === 'generate-node-acls') {
    if (request.chap && !chapMatches(tpg.chap, request.chap)) {
      commands.push({ args: [tpgAt, 'set', 'auth', ...authParams(request.chap)], sensitive: true });
      changes.push('set TPG CHAP credentials');
    }
  } else {
    // A per-image target is this image's alone: its ACLs are exactly the initiators asked for.
    const unwanted = tpg.nodeAcls.filter((acl) => !request.initiators.includes(acl.initiator));
    for (const acl of unwanted) commands.push({ args: [`${tpgAt}/acls`, 'delete', acl.initiator] });
    if (unwanted.length) changes.push(`deleted ${unwanted.length} ACL(s) no longer asked for`);
    let aclsCreated = 0;
    for (const initiator of request.initiators) {
      const acl = tpg.nodeAcls.find((a) => a.initiator === initiator);
      const aclAt = `${tpgAt}/acls/${initiator}`;
      if (!acl) {
        commands.push({ args: [`${tpgAt}/acls`, 'create', initiator, 'add_mapped_luns=false'] });
        aclsCreated++;
      }
      const mapped = acl?.mappedLuns.find((m) => m.tpgLun === tpgLun);
      if (mapped && !mapped.writeProtect) {
        commands.push({ args: [aclAt, 'delete', String(mapped.index)] });
        changes.push(`re-mapped LUN ${tpgLun} read-only for ${initiator}`);
      }
      if (!mapped || !mapped.writeProtect) {
        const taken = (acl?.mappedLuns ?? []).filter((m) => m !== mapped).map((m) => m.index);
        const index = taken.includes(tpgLun) ? lowestFree(taken) : tpgLun;
        commands.push({ args: [aclAt, 'create', `mapped_lun=${index}`, `tpg_lun_or_backstore=${tpgLun}`, 'write_protect=1'] });
      }
      if (request.chap && !chapMatches(acl?.chap ?? null, request.chap)) {
        commands.push({ args: [aclAt, 'set', 'auth', ...authParams(request.chap)], sensitive: true });
        changes.push(`set CHAP credentials for ${initiator}`);
      }
    }
    if (aclsCreated) changes.push(`created ${aclsCreated} ACL(s)`);
  }

  // 5. Portals: targetcli's default 0.0.0.0:3260 would hold the port the specific addresses need.
  for (const portal of tpg.portals) {
    const conflicts = portal.address === anyAddress && request.portals.some((p) => p.port === portal.port && p.address !== anyAddress);
    if (conflicts) {
      commands.push({ args: [`${tpgAt}/portals`, 'delete', portal.address, String(portal.port)] });
      changes.push(`deleted portal ${portal.address}:${portal.port}`);
    }
  }
  for (const portal of request.portals.filter((p) => !tpg.portals.some((q) => q.address === p.address && q.port === p.port))) {
    commands.push({ args: [`${tpgAt}/portals`, 'create', portal.address, String(portal.port)] });
    changes.push(`created portal ${portal.address}:${portal.port}`);
  }

  if (commands.length) commands.push(saveconfigCommand(request.saveconfigPath));
  return { commands, tpgLun, createdLun: !existingLun, changes };
}

export interface RemovalRequest {
  identity: LunIdentity;
  /** The image's own target, if it has one: removed even when a failed export left it without a LUN. */
  targetIqn?: string;
  /** The shared sbps target, which stays. */
  sharedIqn: string;
  saveconfigPath: string;
}

/**
 * Deleting the backstore deletes its TPG LUNs and their ACL mappings with it (rtslib), as the marshal
 * does; a per-image target that exported nothing else goes too (never the shared sbps target).
 */
export function planRemoval(state: LioState, request: RemovalRequest): TargetcliCommand[] {
  const backstore = state.storageObjects.find((so) => so.plugin === 'fileio' && so.wwn === request.identity.serial);
  const onlyThis = (lun: LioLun) => backstore !== undefined && lun.storageObject.plugin === 'fileio' && lun.storageObject.name === backstore.name;
  const holdsOnlyThis = (target: LioTarget) => target.tpgs.every((tpg) => tpg.luns.every(onlyThis));
  const holdsThis = (target: LioTarget) => target.tpgs.some((tpg) => tpg.luns.some(onlyThis));
  const perImageTargets = state.targets.filter(
    (t) => t.fabric === 'iscsi' && t.wwn !== request.sharedIqn && holdsOnlyThis(t) && (holdsThis(t) || t.wwn === request.targetIqn),
  );
  const commands = [...perImageTargets.map((t) => ({ args: ['/iscsi', 'delete', t.wwn] })), ...(backstore ? [{ args: ['/backstores/fileio', 'delete', backstore.name] }] : [])];
  return commands.length ? [...commands, saveconfigCommand(request.saveconfigPath)] : [];
}

function lowestFree(taken: number[]): number {
  let n = 0;
  while (taken.includes(n)) n++;
  return n;
}

function authParams(chap: ResolvedChap): string[] {
  return [
    `userid=${chap.user}`,
    `password=${chap.password}`,
    ...(chap.mutual ? [`mutual_userid=${chap.mutual.user}`, `mutual_password=${chap.mutual.password}`] : []),
  ];
}

function chapMatches(present: LioChap | null, wanted: ResolvedChap): boolean {
  return (
    present !== null &&
    present.userid === wanted.user &&
    present.passwordSha224 === sha224Hex(wanted.password) &&
    present.mutualUserid === (wanted.mutual?.user ?? null) &&
    present.mutualPasswordSha224 === (wanted.mutual ? sha224Hex(wanted.mutual.password) : null)
  );
}
