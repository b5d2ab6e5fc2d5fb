// The imagectl commands. Each returns its exit code; --json prints one JSON document instead of text.
import { WorkflowFailedError, WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { issueLines } from '../lib/parseInput';
import { RetireImageSpec } from '../lib/specs/retireSpec';
import type { RetireImageResult } from '../workflows/retireImage';
import type { Decision } from '../workflows/updateBootParameters';
import type { WorkflowStatus } from '../workflows/support/status';
import { cliSettings, connect, workflowUiLink } from './connect';
import { ExitCode, UsageError } from './exitCodes';
import { listWorkflows } from './list';
import { collectAttempts, progressFrom, progressOf, type Progress } from './history';
import { bytes, historyTable, progressText, table } from './render';
import { loadValidationReport, reportText } from './report';
import { reportHtml } from './reportHtml';
import { loadSpec } from './specFile';

export interface CommandOptions {
  json: boolean;
  wait: boolean;
  dryRun: boolean;
  reason?: string;
  reject: boolean;
  workflowId?: string;
  imageIds?: string[];
  servers?: string[];
  intervalMs: number;
  phase?: string;
  status?: string;
  limit: number;
  /** report --html FILE */
  html?: string;
}

type Command = (args: string[], options: CommandOptions) => Promise<number>;

export const usage = `usage: imagectl <command> [options]   (--json on every command)
  validate SPEC                      check a spec file; nothing is started
  start SPEC [--wait] [--id ID]      start the workflow the spec names (default importImage)
  list [--image ID|NAME ...] [--phase P] [--status S] [--limit N]
                                     running lifecycles and phases, then the latest closed
  status ID                          phase, step, last attempts, pending work (exit 1 if it failed)
  watch ID                           follow progress (bars from heartbeats) until the workflow ends
  history ID                         every attempt of every activity and child workflow, with errors
  report ID [--html FILE]            a validation's failures by check and by server (ID: a validation,
                                     a lifecycle or a rollout); --html: a page with every node's verdict
  approve ID --reason TEXT [--reject]  approve (or reject) a pending boot-parameter rollout
  cancel ID                          cancel a workflow (it cleans up after itself)
  rollback CHANGE_ID [--wait]        restore BSS boot parameters from a change's snapshot
  retire IMAGE --server S [--server S2 ...] [--dry-run] [--wait]
                                     remove an image's exports and staged files (refused while BSS boots it)
  repair-manifests [--dry-run] [--image ID ...]  check and repair image manifests
environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, IMAGE_TASK_QUEUE, TEMPORAL_UI_URL
exit codes: 0 ok; 1 workflow failed or faults found; 2 usage or invalid spec; 3 unreachable`;

const print = (options: CommandOptions, json: unknown, text: () => string) => console.log(options.json ? JSON.stringify(json, null, 2) : text());

function requireArg(args: string[], what: string): string {
  if (!args[0]) throw new UsageError(`missing ${what}\n${usage}`);
  return args[0];
}

async function withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connect();
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);

async function startWorkflow(client: Client, workflowType: string, input: unknown, workflowId: string) {
  return client.workflow.start(workflowType, { taskQueue: cliSettings().taskQueue, workflowId, args: [input] });
}

/** Waits for the result; a failure prints its reason and gives exit code 1. */
async function awaitOutcome(handle: WorkflowHandle, options: CommandOptions, render: (result: unknown) => string): Promise<number> {
  try {
    const result = await handle.result();
    print(options, { workflowId: handle.workflowId, status: 'COMPLETED', result }, () => render(result));
    return ExitCode.ok;
  } catch (error) {
    if (!(error instanceof WorkflowFailedError)) throw error;
    const cause = error.cause as { type?: string; message?: string } | undefined;
    print(options, { workflowId: handle.workflowId, status: 'FAILED', errorType: cause?.type, error: cause?.message ?? error.message }, () =>
      `${handle.workflowId} FAILED${cause?.type ? ` (${cause.type})` : ''}: ${cause?.message ?? error.message}\nsee: imagectl history ${handle.workflowId}`,
    );
    return ExitCode.workflowFailed;
  }
}

const validate: Command = async (args, options) => {
  const file = requireArg(args, 'SPEC file');
  const spec = loadSpec(file);
  // --json carries the input too: runbooks hand it to `temporal workflow start --input`.
  print(options, { valid: true, workflow: spec.workflowType, input: spec.input }, () => `${file}: valid ${spec.workflowType} spec`);
  return ExitCode.ok;
};

const start: Command = async (args, options) => {
  const file = requireArg(args, 'SPEC file');
  const spec = loadSpec(file);
  const name = (spec.input as { name?: string }).name;
  const workflowId = options.workflowId ?? `${spec.workflowType}-${name ? `${slug(name)}-` : ''}${randomUUID().slice(0, 8)}`;
  return withClient(async (client) => {
    const handle = await startWorkflow(client, spec.workflowType, spec.input, workflowId);
    if (!options.wait || !options.json) {
      print(options, { workflowId, runId: handle.firstExecutionRunId, ui: workflowUiLink(workflowId) }, () =>
        `started ${spec.workflowType} ${workflowId}\n  UI:      ${workflowUiLink(workflowId)}\n  watch:   imagectl watch ${workflowId}\n  history: imagectl history ${workflowId}`,
      );
    }
    return options.wait ? awaitOutcome(handle, options, (result) => JSON.stringify(result, null, 2)) : ExitCode.ok;
  });
};

async function queryStatus(handle: WorkflowHandle): Promise<WorkflowStatus | undefined> {
  return handle.query<WorkflowStatus>('status').catch(() => undefined);
}

interface PendingWork {
  activity: string;
  attempt: number;
  state: string;
  progress?: Progress;
  lastFailure?: string;
}

async function pendingWork(handle: WorkflowHandle): Promise<{ status: string; pending: PendingWork[] }> {
  const description = await handle.describe();
  const pending = (description.raw.pendingActivities ?? []).map((activity): PendingWork => {
    return {
      activity: activity.activityType?.name ?? '?',
      attempt: activity.attempt ?? 1,
      state: String(activity.state ?? ''),
      progress: progressOf(activity.heartbeatDetails),
      lastFailure: activity.lastFailure?.message ?? undefined,
    };
  });
  return { status: description.status.name, pending };
}

const progressLine = (work: PendingWork) =>
  work.progress
    ? `${work.activity.padEnd(20)} ${progressText(work.progress)}`
    : `${work.activity.padEnd(20)} running`;

interface Snapshot {
  workflowId: string;
  status: string;
  workflowStatus?: WorkflowStatus;
  /** The workflow's own progress (its status query's `progress` detail: a validation's nodes checked). */
  progress?: Progress;
  pending: PendingWork[];
  /** The running phase of a lifecycle (its `currentChild`), followed down. */
  child?: Snapshot;
}

async function snapshot(client: Client, workflowId: string): Promise<Snapshot> {
  const handle = client.workflow.getHandle(workflowId);
  const [{ status: state, pending }, workflowStatus] = await Promise.all([pendingWork(handle), queryStatus(handle)]);
  const childId = workflowStatus?.details.currentChild;
  const child = state === 'RUNNING' && typeof childId === 'string' ? await snapshot(client, childId).catch(() => undefined) : undefined;
  const progress = progressFrom(workflowStatus?.details.progress);
  return { workflowId, status: state, workflowStatus, ...(progress ? { progress } : {}), pending, child: child?.status === 'RUNNING' ? child : undefined };
}

function snapshotLines(top: Snapshot, current: Snapshot = top, indent = ''): string[] {
  const { workflowStatus } = current;
  const awaiting = workflowStatus?.step === 'awaiting approval';
  return [
    `${indent}${current.workflowId}: ${current.status}${workflowStatus ? ` — ${workflowStatus.phase}: ${workflowStatus.step}${workflowStatus.imageId ? `, image ${workflowStatus.imageId}` : ''}` : ''}`,
    ...(current.progress && workflowStatus ? [`${indent}  ${workflowStatus.phase.padEnd(20)} ${progressText(current.progress)}`] : []),
    ...current.pending.map((p) => `${indent}  ${progressLine(p)}`),
    ...(awaiting ? [`${indent}  awaiting approval: imagectl approve ${top.workflowId} --reason "..."  (or --reject)`] : []),
    ...(current.child ? snapshotLines(top, current.child, `${indent}  `) : []),
  ];
}

/** Workflow states `imagectl status` exits 1 for, as `imagectl start --wait` does. */
const unsuccessful = new Set(['FAILED', 'TIMED_OUT', 'CANCELLED', 'TERMINATED']);

const status: Command = async (args, options) => {
  const workflowId = requireArg(args, 'workflow ID');
  return withClient(async (client) => {
    const state = await snapshot(client, workflowId);
    const recent = state.workflowStatus?.attempts.slice(-5) ?? [];
    print(options, { ...state.workflowStatus, ...state }, () =>
      [
        ...snapshotLines(state),
        recent.length ? '  last attempts:' : '',
        ...recent.map((a) => `    ${a.outcome.padEnd(10)} ${a.label}${a.message ? ` — ${a.failureType}: ${a.message}` : ''}`),
      ]
        .filter(Boolean)
        .join('\n'),
    );
    return unsuccessful.has(state.status) ? ExitCode.workflowFailed : ExitCode.ok;
  });
};

const watch: Command = async (args, options) => {
  const workflowId = requireArg(args, 'workflow ID');
  return withClient(async (client) => {
    const handle = client.workflow.getHandle(workflowId);
    let previous = '';
    for (;;) {
      const state = await snapshot(client, workflowId);
      const screen = snapshotLines(state).join('\n');
      if (options.json) console.log(JSON.stringify({ status: state.status, step: state.workflowStatus?.step, phase: state.workflowStatus?.phase, progress: state.progress, pending: state.pending, child: state.child }));
      else if (screen !== previous) {
        if (process.stdout.isTTY && previous) process.stdout.write(`\x1b[${previous.split('\n').length}A\x1b[J`);
        console.log(screen);
      }
      previous = screen;
      if (state.status !== 'RUNNING') return awaitOutcome(handle, { ...options, json: options.json }, (result) => JSON.stringify(result, null, 2));
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
    }
  });
};

const history: Command = async (args, options) => {
  const workflowId = requireArg(args, 'workflow ID');
  return withClient(async (client) => {
    const rows = await collectAttempts(client, workflowId);
    print(options, { workflowId, attempts: rows }, () => historyTable(rows));
    return ExitCode.ok;
  });
};

const list: Command = async (_args, options) =>
  withClient(async (client) => {
    const rows = await listWorkflows(client, { images: options.imageIds, phase: options.phase, status: options.status, limit: options.limit });
    print(options, { workflows: rows }, () =>
      table(
        ['WORKFLOW ID', 'TYPE', 'IMAGE NAME', 'IMAGE ID', 'PHASE', 'STATUS', 'STARTED', 'APPROVAL'],
        rows.map((r) => [r.workflowId, r.type, r.imageName ?? '', r.imageId ?? '', r.phase ?? '', r.status, r.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), r.awaitingApproval ? 'awaiting' : '']),
      ),
    );
    return ExitCode.ok;
  });

/** Exit 1 when any node failed on any server, as repair-manifests does for faults found. */
const report: Command = async (args, options) => {
  const workflowId = requireArg(args, 'workflow ID');
  return withClient(async (client) => {
    const loaded = await loadValidationReport(client, workflowId, 5);
    if (options.html) fs.writeFileSync(options.html, reportHtml(loaded));
    const { verdicts, ...rest } = loaded;
    print(options, { ...rest, ...(options.html ? { html: options.html } : {}) }, () => `${reportText(loaded)}${options.html ? `\npage: ${options.html}` : ''}`);
    return loaded.groups.passed === loaded.groups.nodes ? ExitCode.ok : ExitCode.workflowFailed;
  });
};

/** The rollout a decision is for: the workflow itself, or a lifecycle's running boot parameters phase. */
function rolloutOf(state: Snapshot): { rollout?: Snapshot; refusal?: string } {
  if (state.status !== 'RUNNING') return { refusal: `${state.workflowId} is ${state.status.toLowerCase()}` };
  let current = state;
  while (current.child) current = current.child;
  if (current.workflowStatus?.phase !== 'boot-params') return { refusal: `${current.workflowId} is not a boot parameters rollout (phase ${current.workflowStatus?.phase ?? 'unknown'})` };
  return { rollout: current };
}

/** Sent as an update, so the rollout says whether it took the decision (and why not). */
const approve: Command = async (args, options) => {
  const workflowId = requireArg(args, 'workflow ID');
  if (!options.reason) throw new UsageError('approve needs --reason "why" (it is recorded in the workflow history)');
  const decision = { who: process.env.SUDO_USER ?? process.env.USER ?? os.userInfo().username, reason: options.reason };
  const verb = options.reject ? 'reject' : 'approve';
  return withClient(async (client) => {
    const { rollout, refusal } = rolloutOf(await snapshot(client, workflowId));
    const refused = (reason: string) => {
      print(options, { workflowId, ...decision, refused: reason }, () => `${verb} refused: ${reason}; no decision taken`);
      return ExitCode.workflowFailed;
    };
    if (!rollout) return refused(refusal!);
    try {
      const taken = await client.workflow.getHandle(rollout.workflowId).executeUpdate<Decision, [typeof decision]>(verb, { args: [decision] });
      print(options, { workflowId: rollout.workflowId, ...taken, decision: taken.verdict }, () => `${taken.verdict} ${rollout.workflowId} as ${taken.who}: ${taken.reason}`);
      return ExitCode.ok;
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError) return refused(`${rollout.workflowId}: ${error.cause?.message ?? error.message}`);
      throw error;
    }
  });
};

const cancel: Command = async (args, options) => {
  const workflowId = requireArg(args, 'workflow ID');
  return withClient(async (client) => {
    await client.workflow.getHandle(workflowId).cancel();
    print(options, { workflowId, cancelRequested: true }, () => `cancellation requested for ${workflowId}; it cleans up before it stops (imagectl watch ${workflowId})`);
    return ExitCode.ok;
  });
};

/** Starts the workflow; with --wait, waits and prints its outcome. */
async function startMaybeWaiting(client: Client, options: CommandOptions, workflowType: string, input: unknown, workflowId: string, render: (result: unknown) => string): Promise<number> {
  const handle = await startWorkflow(client, workflowType, input, workflowId);
  if (!options.wait) {
    print(options, { workflowId: handle.workflowId }, () => `started ${workflowType} ${handle.workflowId} (imagectl watch ${handle.workflowId})`);
    return ExitCode.ok;
  }
  return awaitOutcome(handle, options, render);
}

const rollback: Command = async (args, options) => {
  const changeId = requireArg(args, 'CHANGE_ID');
  return withClient((client) =>
    startMaybeWaiting(client, options, 'rollbackBootParameters', { changeId }, options.workflowId ?? `rollback-${changeId}-${randomUUID().slice(0, 8)}`, (result) => JSON.stringify(result, null, 2)),
  );
};

const retiredLines = (result: RetireImageResult): string =>
  [
    `${result.dryRun ? 'dry run: would retire' : 'retired'} image ${result.imageId}`,
    ...result.servers.flatMap((server) => [
      `  ${server.server}: ${server.exports.length ? server.exports.join('; ') : 'no export of the image'}`,
      `    staged files ${result.dryRun ? 'to remove' : 'removed'}: ${server.cacheFiles.length ? server.cacheFiles.map((f) => `${f.path} (${bytes(f.sizeBytes)})`).join(', ') : 'none'}`,
      ...(server.keptCacheFiles.length ? [`    kept (an export uses them): ${server.keptCacheFiles.join(', ')}`] : []),
    ]),
  ].join('\n');

const retire: Command = async (args, options) => {
  const imageId = requireArg(args, 'IMAGE id');
  const parsed = RetireImageSpec.safeParse({ imageId, servers: (options.servers ?? []).map((name) => ({ name })), dryRun: options.dryRun });
  if (!parsed.success) throw new UsageError(`${issueLines(parsed.error).join('; ')} (retire IMAGE --server NAME ...)`);
  return withClient((client) =>
    startMaybeWaiting(client, options, 'retireImage', parsed.data, options.workflowId ?? `retire-${imageId}-${randomUUID().slice(0, 8)}`, (result) => retiredLines(result as RetireImageResult)),
  );
};

interface RepairResult {
  dryRun: boolean;
  counts: Record<string, number>;
  images: { imageId: string; name?: string; verdict: string; error?: string; report?: { etagFaults: unknown[]; unfixable: { path: string; kind: string }[]; invalid: string[] }; imsLinkEtag?: { recorded: string | null; actual: string | null } }[];
}

const repairManifests: Command = async (_args, options) =>
  withClient(async (client) => {
    const input = { dryRun: options.dryRun, ...(options.imageIds?.length ? { imageIds: options.imageIds } : {}) };
    const handle = await startWorkflow(client, 'repairManifests', input, options.workflowId ?? `repair-manifests-${randomUUID().slice(0, 8)}`);
    let result: RepairResult;
    try {
      result = (await handle.result()) as RepairResult;
    } catch {
      return awaitOutcome(handle, options, () => '');
    }
    print(options, { workflowId: handle.workflowId, ...result }, () =>
      [
        table(
          ['IMAGE', 'NAME', 'VERDICT', 'DETAILS'],
          result.images.map((image) => [
            image.imageId,
            image.name ?? '',
            image.verdict,
            [
              image.error,
              image.report?.etagFaults.length ? `${image.report.etagFaults.length} etag fault(s)` : '',
              ...(image.report?.unfixable ?? []).map((p) => `${p.path}: ${p.kind}`),
              ...(image.report?.invalid ?? []),
              image.imsLinkEtag ? `IMS link etag ${image.imsLinkEtag.recorded ?? 'missing'} ≠ manifest ${image.imsLinkEtag.actual} (IMS links are write-once)` : '',
            ]
              .filter(Boolean)
              .join('; '),
          ]),
        ),
        `${result.dryRun ? 'dry run: ' : ''}${Object.entries(result.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`,
      ].join('\n'),
    );
    const clean = !result.counts.unfixable && !result.counts.failed && !result.counts['needs-repair'];
    return clean ? ExitCode.ok : ExitCode.workflowFailed;
  });

export const commands: Record<string, Command> = {
  validate,
  start,
  list,
  status,
  watch,
  history,
  report,
  approve,
  cancel,
  rollback,
  retire,
  'repair-manifests': repairManifests,
};
