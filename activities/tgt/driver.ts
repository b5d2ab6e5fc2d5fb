// The target driver for tgt (tgtd/tgtadm): what the dev stack and the tests run. Same identity as LIO:
// SCSI serial = the marshal's wwn, product id = the backstore name, and a SCSI ID from which tgtd builds
// an NAA designator equal to LIO's, so initiators and multipath see the same WWID on either target.
import { lioNaaPrefix, marshalTargetIqn, type LunIdentity } from '../../lib/lunIdentity';
import type { CommandRunner } from '../export/commandRunner';
import type { ExportResult, ExportSpec, ExportedLun, Portal, RemoveResult, TargetDriver } from '../export/driver';
import type { SecretResolver } from '../export/secrets';
import { assertStagedSize } from '../export/stagedFile';
import { serialQueue } from '../export/serialize';
import { parseAccounts, parsePortals, parseTargets, tgtadmArgv, type TgtTarget } from './tgtadm';

export interface TgtDriverSettings {
  /** Host name: names the target (`iqn.2023-06.csm.iscsi:<server>`) and the results. */
  server: string;
  controlPort: number;
  runner: CommandRunner;
  secrets: SecretResolver;
}

/** tgtd derives its NAA designator as "6" + the SCSI ID's hex digits; this makes it LIO's. */
export const tgtScsiId = (identity: LunIdentity): string => `${lioNaaPrefix.slice(1)}${identity.digest.slice(0, 25)}`;

export function createTgtDriver(settings: TgtDriverSettings): TargetDriver {
  const { server, runner } = settings;
  const serially = serialQueue();
  const tgtadm = (args: string[], secrets?: string[]) => runner.run(tgtadmArgv(settings.controlPort, args), { secrets });
  const show = async () => parseTargets((await tgtadm(['--op', 'show', '--mode', 'target'])).stdout);

  async function ensureTarget(iqn: string, changes: string[]): Promise<TgtTarget> {
    const targets = await show();
    const existing = targets.find((t) => t.iqn === iqn);
    if (existing) return existing;
    const tid = Math.max(0, ...targets.map((t) => t.tid)) + 1;
    await tgtadm(['--op', 'new', '--mode', 'target', '--tid', String(tid), '--targetname', iqn]);
    changes.push(`created target ${iqn} (tid ${tid})`);
    return { tid, iqn, luns: [], acls: [], accounts: [] };
  }

  async function ensureLun(target: TgtTarget, spec: ExportSpec, changes: string[]): Promise<{ lun: number; created: boolean }> {
    const { identity } = spec;
    const existing = target.luns.find((l) => l.serial === identity.serial);
    if (existing) {
      if (!existing.readonly) {
        await tgtadm(['--op', 'update', '--mode', 'logicalunit', '--tid', String(target.tid), '--lun', String(existing.lun), '--params', 'readonly=1']);
        changes.push(`made LUN ${existing.lun} read-only`);
      }
      return { lun: existing.lun, created: false };
    }
    await assertStagedSize(runner, spec.backingFile, spec.sizeBytes);
    const used = new Set(target.luns.map((l) => l.lun));
    let lun = 1; // LUN 0 is tgtd's controller
    while (used.has(lun)) lun++;
    const lunArgs = ['--tid', String(target.tid), '--lun', String(lun)];
    await tgtadm(['--op', 'new', '--mode', 'logicalunit', ...lunArgs, '--backing-store', spec.backingFile, '--bstype', 'rdwr']);
    // tgtadm takes no parameters at creation: the LUN is writable until this update, which is why ACLs
    // are bound only after it for a new target (an existing target's initiators could see that instant).
    const params = `readonly=1,scsi_sn=${identity.serial},scsi_id=${tgtScsiId(identity)},product_id=${identity.backstoreName}`;
    await tgtadm(['--op', 'update', '--mode', 'logicalunit', ...lunArgs, '--params', params]);
    changes.push(`created LUN ${lun} (serial ${identity.serial}) on ${spec.backingFile}`);
    return { lun, created: true };
  }

  async function ensureAcls(target: TgtTarget, initiators: ExportSpec['initiators'], changes: string[]) {
    const wanted = initiators === 'generate-node-acls' ? ['ALL'] : initiators;
    const present = new Set(target.acls);
    for (const name of wanted.filter((n) => !present.has(n))) {
      // `-I`/--initiator-address is an address ACL (ALL = any address); names need --initiator-name.
      const flag = name === 'ALL' ? '--initiator-address' : '--initiator-name';
      await tgtadm(['--op', 'bind', '--mode', 'target', '--tid', String(target.tid), flag, name]);
    }
    const added = wanted.length - wanted.filter((n) => present.has(n)).length;
    if (added) changes.push(initiators === 'generate-node-acls' ? 'allowed all initiators' : `allowed ${added} initiator(s)`);
  }

  async function ensureAccount(target: TgtTarget, refs: { userRef: string; secretRef: string }, outgoing: boolean, changes: string[]) {
    const user = await settings.secrets.resolve(refs.userRef);
    const accounts = parseAccounts((await tgtadm(['--op', 'show', '--mode', 'account'])).stdout);
    if (!accounts.includes(user)) {
      const password = await settings.secrets.resolve(refs.secretRef);
      // tgtadm only takes the password as an argument: it is visible in the process table for the few
      // milliseconds tgtadm runs (root-only host), and scrubbed from any error we raise.
      await tgtadm(['--op', 'new', '--mode', 'account', '--user', user, '--password', password], [password]);
      changes.push(`created CHAP account from ${refs.userRef}`);
    }
    if (!target.accounts.some((a) => a.user === user && a.outgoing === outgoing)) {
      await tgtadm(['--op', 'bind', '--mode', 'account', '--tid', String(target.tid), '--user', user, ...(outgoing ? ['--outgoing'] : [])]);
      changes.push(`bound ${outgoing ? 'mutual ' : ''}CHAP account from ${refs.userRef}`);
    }
  }

  /** Adds the portals asked for; returns every portal tgtd listens on (what initiators can use). */
  async function ensurePortals(portals: Portal[], changes: string[]): Promise<Portal[]> {
    const present = parsePortals((await tgtadm(['--op', 'show', '--mode', 'portal'])).stdout);
    const missing = portals.filter((p) => !present.some((q) => q.address === p.address && q.port === p.port));
    for (const portal of missing) {
      await tgtadm(['--op', 'new', '--mode', 'portal', '--param', `portal=${portal.address}:${portal.port}`]);
      changes.push(`added portal ${portal.address}:${portal.port}`);
    }
    return [...present, ...missing];
  }

  return {
    kind: 'tgt',

    ensureExport: (spec) =>
      serially(async (): Promise<ExportResult> => {
        const changes: string[] = [];
        const iqn = marshalTargetIqn(server);
        const target = await ensureTarget(iqn, changes);
        const { lun, created } = await ensureLun(target, spec, changes);
        if (spec.chap) {
          await ensureAccount(target, spec.chap, false, changes);
          if (spec.chap.mutual) await ensureAccount(target, spec.chap.mutual, true, changes);
        }
        await ensureAcls(target, spec.initiators, changes);
        const portals = await ensurePortals(spec.portals, changes);
        const { identity } = spec;
        return { server, iqn, lun, wwid: identity.wwid, serial: identity.serial, portals, created, changes };
      }),

    removeExport: (identity) =>
      serially(async (): Promise<RemoveResult> => {
        const changes: string[] = [];
        for (const target of await show()) {
          const lun = target.luns.find((l) => l.serial === identity.serial);
          if (!lun) continue;
          await tgtadm(['--op', 'delete', '--mode', 'logicalunit', '--tid', String(target.tid), '--lun', String(lun.lun)]);
          changes.push(`deleted LUN ${lun.lun} of ${target.iqn}`);
          if (!target.luns.some((l) => l.type === 'disk' && l !== lun)) {
            // Without --force, tgtd refuses while initiators are logged in: the attempt fails and is retried.
            await tgtadm(['--op', 'delete', '--mode', 'target', '--tid', String(target.tid)]);
            changes.push(`deleted target ${target.iqn}, which exported nothing else`);
          }
        }
        return { server, removed: changes.length > 0, changes };
      }),

    listExports: () =>
      serially(async (): Promise<ExportedLun[]> =>
        (await show()).flatMap((target) =>
          target.luns
            .filter((l) => l.type === 'disk')
            .map((l) => ({ iqn: target.iqn, lun: l.lun, serial: l.serial, backingFile: l.backingStore, sizeBytes: l.sizeBytes, readonly: l.readonly })),
        ),
      ),

    // tgtd keeps its configuration in memory only (tgt-admin --dump drops passwords and LUN parameters),
    // so after a restart the exports are re-created by running the export again, which is idempotent.
    saveConfig: async () => ({ saved: false }),
  };
}
