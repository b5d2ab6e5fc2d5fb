// The target driver for tgt (tgtd/tgtadm): what the dev stack and the tests run. Same identity as LIO:
// SCSI serial = the marshal's wwn, product id = the backstore name, and a SCSI ID from which tgtd builds
// an NAA designator equal to LIO's, so initiators and multipath see the same WWID on either target.
// Access control lives only on a per-image target (ACLs and CHAP bindings are per target in tgt); the
// sbps target every image shares is always open, so no export changes who reaches another image.
import { lunOf, targetIqnOf } from '../../lib/exportLayout';
import { FailureType, permanentFailure } from '../../lib/failures';
import { lioNaaPrefix, lunIdentity, marshalTargetIqn, type LunIdentity } from '../../lib/lunIdentity';
import { sha224Hex } from '../../lib/sha224';
import type { CommandRunner } from '../export/commandRunner';
import type { ExportResult, ExportSpec, ExportedLun, OperationContext, Portal, RemoveRequest, RemoveResult, RestoreResult, TargetDriver } from '../export/driver';
import type { SecretResolver } from '../export/secrets';
import { assertStagedSize } from '../export/stagedFile';
import { serialQueue } from '../export/serialize';
import { readRecord, writeRecord, type RecordedExport, type TgtRecord } from './record';
import { parseAccounts, parsePortals, parseTargets, tgtadmArgv } from './tgtadm';

export interface TgtDriverSettings {
  /** Host name: names the sbps target (`iqn.2023-06.csm.iscsi:<server>`) and the results. */
  server: string;
  controlPort: number;
  runner: CommandRunner;
  secrets: SecretResolver;
  /** The agent's record of its exports (record.ts): what a restore re-creates. */
  recordFile: string;
}

/** tgtd derives its NAA designator as "6" + the SCSI ID's hex digits; this makes it LIO's. */
export const tgtScsiId = (identity: LunIdentity): string => `${lioNaaPrefix.slice(1)}${identity.digest.slice(0, 25)}`;

const anyInitiator = 'ALL';

export function createTgtDriver(settings: TgtDriverSettings): TargetDriver {
  const { server, runner } = settings;
  const serially = serialQueue();
  const sharedIqn = marshalTargetIqn(server);

  function session(context: OperationContext) {
    const tgtadm = (args: string[], secrets?: string[]) => runner.run(tgtadmArgv(settings.controlPort, args), { secrets, signal: context.signal });
    const show = async () => parseTargets((await tgtadm(['--op', 'show', '--mode', 'target'])).stdout);
    return { tgtadm, show };
  }

  async function ensureExport(spec: ExportSpec, context: OperationContext, record: TgtRecord): Promise<ExportResult> {
    const { tgtadm, show } = session(context);
    const { identity, placement } = spec;
    const changes: string[] = [];
    const iqn = targetIqnOf(placement, server);
    const targets = await show();
    const recorded = record.exports.find((e) => e.targetIqn === iqn && lunIdentity(e).serial === identity.serial);
    let target = targets.find((t) => t.iqn === iqn);
    const existing = target?.luns.find((l) => l.serial === identity.serial);
    if (placement.layout === 'per-image') {
      const other = target?.luns.find((l) => l.type === 'disk' && l.serial !== identity.serial);
      if (other) throw permanentFailure(FailureType.InvalidInput, `target ${iqn} on ${server} already exports another artifact (serial ${other.serial}); remove that export or give this one another targetName`);
    }
    const takenLuns = [...(target?.luns.map((l) => l.lun) ?? []), ...record.exports.filter((e) => e.targetIqn === iqn && e !== recorded).map((e) => e.lun)];
    const lun = existing?.lun ?? recorded?.lun ?? lunOf(placement, identity, takenLuns);
    const entry: RecordedExport = {
      targetIqn: iqn,
      placement,
      lun,
      linkPath: identity.linkPath,
      linkEtag: identity.linkEtag,
      backingFile: spec.backingFile,
      sizeBytes: spec.sizeBytes,
      initiators: spec.initiators,
      ...(spec.chap ? { chap: spec.chap } : {}),
      portals: spec.portals,
      complete: false,
    };
    if (!existing) await assertStagedSize(runner, spec.backingFile, spec.sizeBytes);
    const accounts = await checkAccounts(spec.chap, record, tgtadm);
    await saveEntry(record, entry);

    if (!target) {
      const tid = Math.max(0, ...targets.map((t) => t.tid)) + 1;
      await tgtadm(['--op', 'new', '--mode', 'target', '--tid', String(tid), '--targetname', iqn]);
      changes.push(`created target ${iqn} (tid ${tid})`);
      target = { tid, iqn, luns: [], acls: [], accounts: [] };
    }
    const tid = String(target.tid);
    if (existing) {
      if (!existing.readonly) {
        await tgtadm(['--op', 'update', '--mode', 'logicalunit', '--tid', tid, '--lun', String(lun), '--params', 'readonly=1']);
        changes.push(`made LUN ${lun} read-only`);
      }
    } else {
      const lunArgs = ['--tid', tid, '--lun', String(lun)];
      await tgtadm(['--op', 'new', '--mode', 'logicalunit', ...lunArgs, '--backing-store', spec.backingFile, '--bstype', 'rdwr']);
      // tgtadm takes no parameters at creation: the LUN is writable until this update, which is why ACLs
      // are bound only after it for a new target (an existing target's initiators could see that instant).
      const params = `readonly=1,scsi_sn=${identity.serial},scsi_id=${tgtScsiId(identity)},product_id=${identity.backstoreName}`;
      await tgtadm(['--op', 'update', '--mode', 'logicalunit', ...lunArgs, '--params', params]);
      changes.push(`created LUN ${lun} (serial ${identity.serial}) on ${spec.backingFile}`);
    }

    const users: { user: string; outgoing: boolean }[] = [];
    for (const account of accounts) {
      if (!account.exists) {
        // tgtadm only takes the password as an argument: it is visible in the process table for the few
        // milliseconds tgtadm runs (root-only host), and scrubbed from any error we raise.
        await saveAccount(record, account.user, sha224Hex(account.password));
        await tgtadm(['--op', 'new', '--mode', 'account', '--user', account.user, '--password', account.password], [account.password]);
        changes.push(`created CHAP account from ${account.userRef}`);
      } else if (!record.accounts[account.user]) {
        await saveAccount(record, account.user, sha224Hex(account.password)); // made outside this agent: taken as it is
      }
      users.push({ user: account.user, outgoing: account.outgoing });
    }
    for (const { user, outgoing } of users.filter((u) => !target!.accounts.some((a) => a.user === u.user && a.outgoing === u.outgoing))) {
      await tgtadm(['--op', 'bind', '--mode', 'account', '--tid', tid, '--user', user, ...(outgoing ? ['--outgoing'] : [])]);
      changes.push(`bound ${outgoing ? 'mutual ' : ''}CHAP account to ${iqn}`);
    }
    if (placement.layout === 'per-image') {
      // This target is the image's alone: its accounts and ACLs are exactly what this export asks for.
      for (const stale of target.accounts.filter((a) => !users.some((u) => u.user === a.user && u.outgoing === a.outgoing))) {
        await tgtadm(['--op', 'unbind', '--mode', 'account', '--tid', tid, '--user', stale.user, ...(stale.outgoing ? ['--outgoing'] : [])]);
        changes.push(`unbound a CHAP account no longer asked for from ${iqn}`);
      }
    }

    const wantedAcls = placement.layout === 'sbps' || spec.initiators === 'generate-node-acls' ? [anyInitiator] : spec.initiators;
    const present = new Set(target.acls);
    const added = wantedAcls.filter((name) => !present.has(name));
    for (const name of added) await tgtadm(['--op', 'bind', '--mode', 'target', '--tid', tid, ...aclFlag(name)]);
    if (added.length) changes.push(added[0] === anyInitiator ? `allowed all initiators on ${iqn}` : `allowed ${added.length} initiator(s) on ${iqn}`);
    if (placement.layout === 'per-image') {
      const wanted = new Set(wantedAcls);
      const stale = target.acls.filter((name) => !wanted.has(name));
      for (const name of stale) await tgtadm(['--op', 'unbind', '--mode', 'target', '--tid', tid, ...aclFlag(name)]);
      if (stale.length) changes.push(`removed ${stale.length} initiator(s) no longer asked for from ${iqn}`);
    }

    const portals = await ensurePortals(spec.portals, tgtadm, changes);
    await saveEntry(record, { ...entry, complete: true });
    return { server, layout: placement.layout, iqn, lun, wwid: identity.wwid, serial: identity.serial, portals, created: !existing, changes };
  }

  /**
   * The accounts an export needs, resolved and checked before anything changes: one that exists with
   * another password is refused, since changing it would lock out the images that use it.
   */
  async function checkAccounts(chap: ExportSpec['chap'], record: TgtRecord, tgtadm: ReturnType<typeof session>['tgtadm']) {
    if (!chap) return [];
    const present = parseAccounts((await tgtadm(['--op', 'show', '--mode', 'account'])).stdout);
    const wanted = [{ refs: chap, outgoing: false }, ...(chap.mutual ? [{ refs: chap.mutual, outgoing: true }] : [])];
    const accounts = [];
    for (const { refs, outgoing } of wanted) {
      const user = await settings.secrets.resolve(refs.userRef);
      const password = await settings.secrets.resolve(refs.secretRef);
      const known = record.accounts[user];
      if (present.includes(user) && known && known !== sha224Hex(password)) {
        throw permanentFailure(
          FailureType.InvalidInput,
          `the CHAP user of ${refs.userRef} already exists on ${server} with another password, and tgt accounts are server-wide: changing it would lock out the images that use it; give this export a CHAP user of its own`,
        );
      }
      accounts.push({ user, password, outgoing, userRef: refs.userRef, exists: present.includes(user) });
    }
    return accounts;
  }

  /** Adds the portals asked for; returns every portal tgtd listens on (what initiators can use). */
  async function ensurePortals(portals: Portal[], tgtadm: ReturnType<typeof session>['tgtadm'], changes: string[]): Promise<Portal[]> {
    const present = parsePortals((await tgtadm(['--op', 'show', '--mode', 'portal'])).stdout);
    const missing = portals.filter((p) => !present.some((q) => q.address === p.address && q.port === p.port));
    for (const portal of missing) {
      await tgtadm(['--op', 'new', '--mode', 'portal', '--param', `portal=${portal.address}:${portal.port}`]).catch((error: Error) => {
        // An address this server does not have, or a port taken by another program: the spec must change.
        throw permanentFailure(FailureType.InvalidInput, `portal ${portal.address}:${portal.port} cannot be opened on ${server}: ${error.message}`);
      });
      changes.push(`added portal ${portal.address}:${portal.port}`);
    }
    return [...present, ...missing];
  }

  async function removeExport({ identity, targetIqn }: RemoveRequest, context: OperationContext): Promise<RemoveResult> {
    const { tgtadm, show } = session(context);
    const record = await readRecord(settings.recordFile);
    const changes: string[] = [];
    const recordedTargets = new Set(record.exports.filter((e) => lunIdentity(e).serial === identity.serial).map((e) => e.targetIqn));
    if (targetIqn && targetIqn !== sharedIqn) recordedTargets.add(targetIqn);
    for (const target of await show()) {
      const lun = target.luns.find((l) => l.serial === identity.serial);
      const othersOnIt = target.luns.filter((l) => l.type === 'disk' && l !== lun);
      if (!lun && (!recordedTargets.has(target.iqn) || othersOnIt.length)) continue;
      if (lun) {
        await tgtadm(['--op', 'delete', '--mode', 'logicalunit', '--tid', String(target.tid), '--lun', String(lun.lun)]);
        changes.push(`deleted LUN ${lun.lun} of ${target.iqn}`);
      }
      const perImage = target.iqn !== sharedIqn;
      if (!othersOnIt.length) {
        // Without --force, tgtd refuses while initiators are logged in: the attempt fails and is retried.
        await tgtadm(['--op', 'delete', '--mode', 'target', '--tid', String(target.tid)]);
        changes.push(perImage ? `deleted target ${target.iqn}` : `deleted target ${target.iqn}, which exported nothing else`);
      }
    }
    record.exports = record.exports.filter((e) => lunIdentity(e).serial !== identity.serial);
    // Accounts this agent made that no target uses any more (tgt keeps accounts after their target goes).
    const bound = new Set((await show()).flatMap((t) => t.accounts.map((a) => a.user)));
    for (const user of Object.keys(record.accounts).filter((u) => !bound.has(u))) {
      if (parseAccounts((await tgtadm(['--op', 'show', '--mode', 'account'])).stdout).includes(user)) {
        await tgtadm(['--op', 'delete', '--mode', 'account', '--user', user]);
        changes.push('deleted a CHAP account no export uses');
      }
      delete record.accounts[user];
    }
    await writeRecord(settings.recordFile, record);
    return { server, removed: changes.length > 0, changes };
  }

  async function saveEntry(record: TgtRecord, entry: RecordedExport) {
    const serial = lunIdentity(entry).serial;
    record.exports = [...record.exports.filter((e) => !(e.targetIqn === entry.targetIqn && lunIdentity(e).serial === serial)), entry];
    await writeRecord(settings.recordFile, record);
  }

  async function saveAccount(record: TgtRecord, user: string, fingerprint: string) {
    record.accounts[user] = fingerprint;
    await writeRecord(settings.recordFile, record);
  }

  return {
    kind: 'tgt',

    ensureExport: (spec, context = {}) => serially(async () => ensureExport(spec, context, await readRecord(settings.recordFile)), context.signal),

    removeExport: (request, context = {}) => serially(() => removeExport(request, context), context.signal),

    listExports: (context = {}) =>
      serially(async (): Promise<ExportedLun[]> =>
        (await session(context).show()).flatMap((target) =>
          target.luns
            .filter((l) => l.type === 'disk')
            .map((l) => ({ iqn: target.iqn, lun: l.lun, serial: l.serial, backingFile: l.backingStore, sizeBytes: l.sizeBytes, readonly: l.readonly })),
        ),
      context.signal),

    // The record is written as each export is made: there is nothing more to save.
    saveConfig: async () => ({ saved: true, path: settings.recordFile }),

    // While tgtd is offline it answers logins with a target error, which initiators retry; a target not
    // yet re-created, or its ACL not yet bound, would answer "not found" or "forbidden", after which
    // open-iscsi gives up on the session for good (a node's path would never come back). So the restore
    // runs offline and ends by setting tgtd ready: a tgtd started offline (workers/systemd/tgt.service.d)
    // serves once its exports are back.
    restoreConfig: (context = {}) =>
      serially(async (): Promise<RestoreResult> => {
        const record = await readRecord(settings.recordFile);
        const restored: string[] = [];
        const failed: string[] = [];
        const entries = record.exports.filter((e) => e.complete);
        const byTargetAndLun = (a: RecordedExport, b: RecordedExport) => a.targetIqn.localeCompare(b.targetIqn) || a.lun - b.lun;
        const setState = (state: 'offline' | 'ready') => session(context).tgtadm(['--op', 'update', '--mode', 'sys', '--name', 'State', '-v', state]);
        if (entries.length) await setState('offline');
        try {
          for (const entry of entries.sort(byTargetAndLun)) {
            const identity = lunIdentity(entry);
            try {
              const result = await ensureExport({ ...entry, identity }, context, record);
              if (result.changes.length) restored.push(`${result.iqn} LUN ${result.lun} (serial ${result.serial})`);
            } catch (error) {
              if (context.signal?.aborted) throw error;
              failed.push(`${entry.targetIqn} LUN ${entry.lun} (serial ${identity.serial}): ${(error as Error).message}`);
            }
          }
        } finally {
          await setState('ready');
        }
        return { server, restored, failed };
      }, context.signal),
  };
}

/** `--initiator-address ALL` admits any initiator; a name ACL needs `--initiator-name` (`-I` is an address). */
const aclFlag = (name: string): string[] => (name === anyInitiator ? ['--initiator-address', name] : ['--initiator-name', name]);

