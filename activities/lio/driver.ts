// The target driver for LIO, as the SBPS marshal drives it: targetcli commands, an explicit saveconfig,
// and state read back from saveconfig.json. All work on one server goes through one queue.
import { FailureType, permanentFailure } from '../../lib/failures';
import { targetIqnOf } from '../../lib/exportLayout';
import { marshalTargetIqn } from '../../lib/lunIdentity';
import { redact, type CommandRunner } from '../export/commandRunner';
import type { ChapRefs, ExportResult, ExportSpec, ExportedLun, OperationContext, RemoveResult, RestoreResult, TargetDriver } from '../export/driver';
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
  const sharedIqn = marshalTargetIqn(server);

  async function readState(context: OperationContext): Promise<LioState> {
    const read = await runner.run(['cat', saveconfigPath], { signal: context.signal }).catch((error: Error) => {
      if (/No such file/.test(error.message)) return null; // never saved yet
      throw error;
    });
    return read ? parseSaveconfig(read.stdout, `${saveconfigPath} on ${runner.where}`) : emptyLioState;
  }

  /**
   * One interactive targetcli reads every command from stdin: one start-up instead of one per command
   * (seconds each; thousands of ACLs), and passwords never in argv (ps, /proc, audit). Interactive
   * targetcli does not turn a failing line into an exit code, so callers verify from the saved file.
   */
  async function run(commands: TargetcliCommand[], secrets: string[], context: OperationContext): Promise<string> {
    if (!commands.length) return '';
    const script = [...commands.map((c) => c.args.join(' ')), 'exit', ''].join('\n');
    const { stdout, stderr } = await runner.run([targetcli], { input: script, secrets, signal: context.signal });
    return redact(`${stdout}\n${stderr ?? ''}`, secrets);
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

  async function ensureExport(spec: ExportSpec, context: OperationContext): Promise<ExportResult> {
    const changes: string[] = [];
    const iqn = targetIqnOf(spec.placement, server);
    let state = await readState(context);
    const targetCommands = planTarget(state, iqn);
    if (targetCommands.length) {
      await run([...targetCommands, saveconfigCommand(saveconfigPath)], [], context);
      changes.push(`created target ${iqn}`);
      state = await readState(context);
    }
    const chap = spec.chap && (await resolveChap(spec.chap));
    const request = { ...spec, targetIqn: iqn, chap, saveconfigPath };
    const plan = planExport(state, request);
    if (plan.createdLun) await assertStagedSize(runner, spec.backingFile, spec.sizeBytes);
    const secrets = chap ? [chap.password, ...(chap.mutual ? [chap.mutual.password] : [])] : [];
    const said = await run(plan.commands, secrets, context);
    if (plan.commands.length) {
      const leftover = planExport(await readState(context), request);
      if (leftover.commands.length) {
        throw new Error(`LIO on ${server} does not show the export after targetcli ran: still to do ${leftover.changes.join('; ')}; targetcli said: ${lastLines(said)}`);
      }
    }
    const { identity } = spec;
    return {
      server,
      layout: spec.placement.layout,
      iqn,
      lun: plan.tpgLun,
      wwid: identity.wwid,
      serial: identity.serial,
      portals: spec.portals,
      created: plan.createdLun,
      changes: [...changes, ...plan.changes],
    };
  }

  return {
    kind: 'lio',

    ensureExport: (spec, context = {}) => serially(() => ensureExport(spec, context), context.signal),

    removeExport: ({ identity, targetIqn }, context = {}) =>
      serially(async (): Promise<RemoveResult> => {
        const commands = planRemoval(await readState(context), { identity, targetIqn, sharedIqn, saveconfigPath });
        await run(commands, [], context);
        if (commands.length && planRemoval(await readState(context), { identity, targetIqn, sharedIqn, saveconfigPath }).length) {
          throw new Error(`LIO on ${server} still shows the export of ${identity.backstoreName} after targetcli ran`);
        }
        return { server, removed: commands.length > 0, changes: commands.filter((c) => c.args[0] !== 'saveconfig').map((c) => `targetcli ${c.args.join(' ')}`) };
      }, context.signal),

    listExports: (context = {}) =>
      serially(async (): Promise<ExportedLun[]> => {
        const state = await readState(context);
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
      }, context.signal),

    saveConfig: (context = {}) =>
      serially(async () => {
        await run([saveconfigCommand(saveconfigPath)], [], context);
        return { saved: true, path: saveconfigPath };
      }, context.signal),

    // What target.service does at boot: the running configuration becomes the saved one.
    restoreConfig: (context = {}) =>
      serially(async (): Promise<RestoreResult> => {
        const saved = await readState(context);
        await runner.run([targetcli, 'restoreconfig', `savefile=${saveconfigPath}`, 'clear_existing=true'], { signal: context.signal });
        const restored = saved.targets.flatMap((t) => t.tpgs.flatMap((tpg) => tpg.luns.map((lun) => `${t.wwn} LUN ${lun.index} (${lun.storageObject.name})`)));
        return { server, restored, failed: [] };
      }, context.signal),
  };
}

/** The end of what targetcli printed, where its errors are (it prints one line per command it ran). */
const lastLines = (output: string, count = 8): string =>
  output
    .split('\n')
    .map((line) => line.replace(/\x1b\[[0-9;]*m/g, '').trim())
    .filter(Boolean)
    .slice(-count)
    .join(' | ');
