// The export activities an iSCSI server's agent runs on that server: stage the artifact, then export it
// through the server's target driver (tgt or LIO, chosen by ISCSI_DRIVER). Target operations heartbeat
// while they run (thousands of ACLs are thousands of targetcli lines) and stop when their attempt is
// cancelled or times out, so the attempt that replaces them is not queued behind them.
import type { S3Client } from '@aws-sdk/client-s3';
import path from 'node:path';
import { FailureType, permanentFailure } from '../../lib/failures';
import { lunIdentity } from '../../lib/lunIdentity';
import { expandNodeset, NodesetSyntaxError } from '../../lib/nodeset';
import type { Initiators } from '../../lib/specs/exportSpec';
import { createLioDriver } from '../lio/driver';
import { readSettings, type Environment } from '../../settings/load';
import { createTgtDriver } from '../tgt/driver';
import { localRunner, sshRunner, type CommandRunner } from './commandRunner';
import type { ExportResult, ExportedLun, OperationContext, RemoveResult, RestoreResult, TargetDriver } from './driver';
import { DropStagedInput, ExportInput, RemoveInput, StageInput } from './inputs';
import { fileSecretResolver } from './secrets';
import { stageArtifact, stagedPath, type StageResult } from './staging';
import { dropCachedFiles, type DropResult, removePartialDownloads } from './stagingCache';
import { countStagedBytes } from '../support/metrics';
import { withActivityProgress, currentContext } from '../support/progress';
import { parseInput } from '../../lib/parseInput';
import type { z } from 'zod';

export interface ExportAgentSettings {
  server: string;
  driver: TargetDriver;
  /** Where the staging cache is: the same runner as the driver's (local, or SSH to the server). */
  runner: CommandRunner;
  s3: S3Client;
  cacheDir: string;
  /** ISCSI_CACHE_MAX_BYTES: the cache's bound; unbounded when absent. */
  cacheMaxBytes?: number;
}

/** Runs a target operation with the activity's cancellation, heartbeating `{ step }` every few seconds. */
async function targetOperation<T>(step: string, operation: (context: OperationContext) => Promise<T>): Promise<T> {
  const activity = currentContext();
  if (!activity) return operation({});
  activity.heartbeat({ step });
  const beat = setInterval(() => activity.heartbeat({ step }), 5_000);
  try {
    return await operation({ signal: activity.cancellationSignal });
  } finally {
    clearInterval(beat);
  }
}

export function createExportActivities({ server, driver, runner, s3, cacheDir, cacheMaxBytes }: ExportAgentSettings) {
  const exportedFiles = async () => (await driver.listExports()).flatMap((lun) => (lun.backingFile ? [lun.backingFile] : []));
  let deadDownloadsRemoved: Promise<void> | undefined;
  return {
    async stageArtifact(raw: StageInput): Promise<StageResult & { server: string }> {
      const request = parseInput(StageInput, raw);
      await (deadDownloadsRemoved ??= removePartialDownloads(runner, cacheDir).catch((error: unknown) => {
        deadDownloadsRemoved = undefined; // tried again by the next staging
        throw error;
      }));
      const cacheBound = cacheMaxBytes === undefined ? undefined : { maxBytes: cacheMaxBytes, exportedFiles };
      const result = await withActivityProgress((progress) => stageArtifact({ s3, runner, cacheDir, cacheBound, ...progress }, request));
      if (result.downloaded) countStagedBytes(server, result.sizeBytes);
      return { server, ...result };
    },

    /**
     * Removes these artifacts' cached copies (and their partial downloads), keeping any an export still
     * uses. A dry run answers as if these artifacts' own exports were removed first, as retireImage does.
     */
    async dropStagedArtifacts(raw: z.input<typeof DropStagedInput>): Promise<DropResult & { server: string }> {
      const input = parseInput(DropStagedInput, raw);
      const files = input.links.map((link) => stagedPath(cacheDir, link));
      const serials = new Set(input.links.map((link) => lunIdentity(link).serial));
      const luns = (await driver.listExports()).filter((lun) => !(input.dryRun && serials.has(lun.serial)));
      const inUse = luns.flatMap((lun) => (lun.backingFile ? [lun.backingFile] : []));
      return { server, ...(await dropCachedFiles(runner, { dir: cacheDir, files, inUse, dryRun: input.dryRun })) };
    },

    async ensureExport(raw: ExportInput): Promise<ExportResult> {
      const input = parseInput(ExportInput, raw);
      const spec = { ...input, identity: lunIdentity(input), initiators: initiatorIqns(input.initiators) };
      return targetOperation(`export ${spec.identity.backstoreName}`, (context) => driver.ensureExport(spec, context));
    },

    async removeExport(raw: z.input<typeof RemoveInput>): Promise<RemoveResult> {
      const input = parseInput(RemoveInput, raw);
      return targetOperation('remove export', (context) => driver.removeExport({ identity: lunIdentity(input), targetIqn: input.targetIqn }, context));
    },

    async listExports(): Promise<{ server: string; exports: ExportedLun[] }> {
      return { server, exports: await targetOperation('list exports', (context) => driver.listExports(context)) };
    },

    async restoreExports(): Promise<RestoreResult> {
      return targetOperation('restore exports', (context) => driver.restoreConfig(context));
    },
  };
}

export type ExportActivities = ReturnType<typeof createExportActivities>;

/** The driver for this server from the environment: ISCSI_DRIVER=tgt|lio and its settings (README.md). */
export function targetDriverFromEnv(server: string, env: Environment = process.env): TargetDriver {
  const { iscsiServer: settings } = readSettings(['iscsiServer'], env);
  const runner = commandRunnerFromEnv(env);
  const secrets = fileSecretResolver(settings.ISCSI_SECRETS_DIR);
  if (settings.ISCSI_DRIVER === 'lio') return createLioDriver({ server, runner, secrets, saveconfigPath: settings.LIO_SAVECONFIG });
  const recordFile = path.join(settings.ISCSI_STATE_DIR, 'tgt-exports.json');
  return createTgtDriver({ server, controlPort: settings.TGT_CONTROL_PORT, runner, secrets, recordFile });
}

/** ISCSI_SSH_DESTINATION set: the server's tools and its staging cache are reached over SSH. */
export function commandRunnerFromEnv(env: Environment = process.env): CommandRunner {
  const { iscsiServer: settings } = readSettings(['iscsiServer'], env);
  return settings.ISCSI_SSH_DESTINATION ? sshRunner(settings.ISCSI_SSH_DESTINATION, settings.ISCSI_SSH_OPTIONS) : localRunner();
}

function initiatorIqns(initiators: Initiators): string[] | 'generate-node-acls' {
  if (typeof initiators === 'string' || Array.isArray(initiators)) return initiators;
  try {
    return expandNodeset(initiators.nodes).map((node) => initiators.iqnPattern.replaceAll('{node}', node));
  } catch (error) {
    if (error instanceof NodesetSyntaxError) throw permanentFailure(FailureType.InvalidInput, error.message);
    throw error;
  }
}
