// The target driver for LIO, as the SBPS marshal drives it: one-shot targetcli commands, an explicit
// saveconfig, and state read back from saveconfig.json. All work on one server goes through one queue.
import { FailureType, permanentFailure } from '../../lib/failures';
import { marshalTargetIqn, type LunIdentity } from '../../lib/lunIdentity';
import type { CommandRunner } from '../export/commandRunner';
import type { ChapRefs, ExportResult, ExportSpec, ExportedLun, RemoveResult, TargetDriver } from '../export/driver';
import type { SecretResolver } from '../export/secrets';
import { assertStagedSize } from '../export/stagedFile';
import { serialQueue } from '../export/serialize';
import { planExport, planRemoval, planTarget, saveconfigCommand, type ResolvedChap, type TargetcliCommand } from './plan';
import { emptyLioState, parseSaveconfig, type LioState } from './saveconfig';

export const saveconfigPaths = {
  /** RHEL, SLES (and the marshal's default). */
  redhatSuse: '/etc/target/saveconfig.json',
  /** Debian/Ubuntu targetcli-fb. */
  debian: '/etc/rtslib-fb-target/saveconfig.json',
} as const;

export interface LioDriverSettings {
  server: string;
  runner: CommandRunner;
  secrets: SecretResolver;
  saveconfigPath: string;
  targetcli?: string;
}

export function createLioDriver(settings: LioDriverSettings): TargetDriver {
  const { server, runner, saveconfigPath } = settings;
  const targetcli = settings.targetcli ?? 'targetcli';
  const serially = serialQueue();
  const iqn = marshalTargetIqn(server);

  async function readState(): Promise<LioState> {
    const read = await runner.run(['cat', saveconfigPath]).catch((error: Error) => {
      if (/No such file/.test(error.message)) return null; // never saved yet
      throw error;
    });
    return read ? parseSaveconfig(read.stdout, `${saveconfigPath} on ${runner.where}`) : emptyLioState;
  }

  async function run(commands: TargetcliCommand[], secrets: string[]) {
    for (const command of commands.filter((c) => !c.sensitive)) await runner.run([targetcli, ...command.args]);
    const sensitive = commands.filter((c) => c.sensitive);
    if (!sensitive.length) return;
    // Passwords go through stdin, one command per line, so they never appear in argv (ps, /proc, audit).
    const script = [...sensitive.map((c) => c.args.join(' ')), saveconfigCommand(saveconfigPath).args.join(' '), 'exit', ''].join('\n');
    await runner.run([targetcli], { input: script, secrets });
  }

  async function resolveChap(refs: ChapRefs): Promise<ResolvedChap> {
    const resolvePair = async (pair: { userRef: string; secretRef: string }) => {
      const [user, password] = [await settings.secrets.resolve(pair.userRef), await settings.secrets.resolve(pair.secretRef)];
      // targetcli splits its command line on whitespace: such a secret cannot be set intact.
      if (/\s/.test(user + password)) throw permanentFailure(FailureType.InvalidInput, `CHAP secret ${pair.secretRef} or user ${pair.userRef} contains whitespace`);
      return { user, password };
    };
    const base = await resolvePair(refs);
    return refs.mutual ? { ...base, mutual: await resolvePair(refs.mutual) } : base;
  }

  return {
    kind: 'lio',

    ensureExport: (spec: ExportSpec) =>
      serially(async (): Promise<ExportResult> => {
        const changes: string[] = [];
        let state = await readState();
        const targetCommands = planTarget(state, iqn);
        if (targetCommands.length) {
          await run([...targetCommands, saveconfigCommand(saveconfigPath)], []);
          changes.push(`created target ${iqn}`);
          state = await readState();
        }
        const chap = spec.chap && (await resolveChap(spec.chap));
        const plan = planExport(state, { ...spec, targetIqn: iqn, chap, saveconfigPath });
        if (plan.createdLun) await assertStagedSize(runner, spec.backingFile, spec.sizeBytes);
        const secrets = chap ? [chap.password, ...(chap.mutual ? [chap.mutual.password] : [])] : [];
        await run(plan.commands, secrets);
        if (plan.commands.length) {
          // Verify from the saved state: the stdin-fed commands of an interactive targetcli do not set its exit code.
          const leftover = planExport(await readState(), { ...spec, targetIqn: iqn, chap, saveconfigPath });
          if (leftover.commands.length) throw new Error(`LIO on ${server} does not show the export after targetcli ran: still to do ${leftover.changes.join('; ')}`);
        }
        const { identity } = spec;
        return {
          server,
          iqn,
          lun: plan.tpgLun,
          wwid: identity.wwid,
          serial: identity.serial,
          portals: spec.portals,
          created: plan.createdLun,
          changes: [...changes, ...plan.changes],
        };
      }),

    removeExport: (identity: LunIdentity) =>
      serially(async (): Promise<RemoveResult> => {
        const commands = planRemoval(await readState(), identity, saveconfigPath);
        await run(commands, []);
        return { server, removed: commands.length > 0, changes: commands.length ? [`deleted fileio backstore ${identity.backstoreName} and its LUNs`] : [] };
      }),

    listExports: () =>
      serially(async (): Promise<ExportedLun[]> => {
        const state = await readState();
        return state.targets
          .filter((t) => t.fabric === 'iscsi')
          .flatMap((target) =>
            target.tpgs.flatMap((tpg) =>
              tpg.luns.flatMap((lun) => {
                const so = state.storageObjects.find((s) => s.plugin === lun.storageObject.plugin && s.name === lun.storageObject.name);
                if (!so || so.plugin !== 'fileio') return [];
                const readonly = Number(tpg.attributes.demo_mode_write_protect) === 1 && Number(tpg.attributes.prod_mode_write_protect) === 1;
                return [{ iqn: target.wwn, lun: lun.index, serial: so.wwn ?? '', backingFile: so.dev, sizeBytes: so.sizeBytes ?? 0, readonly }];
              }),
            ),
          );
      }),

    saveConfig: () =>
      serially(async () => {
        await run([saveconfigCommand(saveconfigPath)], []);
        return { saved: true, path: saveconfigPath };
      }),
  };
}
