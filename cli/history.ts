// The retry history operators ask for: every attempt of every activity (and child workflow) of a
// workflow, read from its event history, since each attempt there is an activity of its own.
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface AttemptRow {
  kind: 'activity' | 'child-workflow';
  /** The attempt's label as the workflow gave it (e.g. "upload rootfs (attempt 2)"). */
  label: string;
  type: string;
  attempt: number;
  taskQueue?: string;
  startedAt: string;
  durationMs: number | null;
  outcome: 'running' | 'completed' | 'failed' | 'timed-out' | 'cancelled' | 'terminated';
  errorType?: string;
  errorMessage?: string;
  repair: boolean;
  /** A running activity's progress, from its last heartbeat. */
  progress?: Progress;
  /** For a running step: the failure of its previous attempt (or of Temporal's own retry of it). */
  lastFailure?: string;
  activityId?: string;
}

export interface Progress {
  done: number;
  total: number;
  unit: 'bytes' | 'nodes' | 'steps';
  /** The step under way (unit steps). */
  step?: string;
  /** Nodes failed so far (unit nodes, when the details say). */
  failed?: number;
}

/**
 * Progress from heartbeat or status details: `{bytesDone, bytesTotal}`, `{nodesDone, nodesTotal[, failed]}`
 * or `{stepsDone, stepsTotal, step}`.
 */
export function progressFrom(details: unknown): Progress | undefined {
  if (!details || typeof details !== 'object') return undefined;
  const d = details as Record<string, unknown>;
  const count = (name: string) => (typeof d[name] === 'number' ? (d[name] as number) : 0);
  if (typeof d.bytesTotal === 'number') return { done: count('bytesDone'), total: d.bytesTotal, unit: 'bytes' };
  if (typeof d.nodesTotal === 'number') return { done: count('nodesDone'), total: d.nodesTotal, unit: 'nodes', ...(typeof d.failed === 'number' ? { failed: d.failed } : {}) };
  if (typeof d.stepsTotal === 'number') return { done: count('stepsDone'), total: d.stepsTotal, unit: 'steps', ...(typeof d.step === 'string' ? { step: d.step } : {}) };
  return undefined;
}

/** Progress from an activity's heartbeat details (a payload). */
export function progressOf(heartbeatDetails: temporal.api.common.v1.IPayloads | null | undefined): Progress | undefined {
  const payload = heartbeatDetails?.payloads?.[0];
  return payload ? progressFrom(defaultPayloadConverter.fromPayload(payload as never)) : undefined;
}

const toDate = (time: HistoryEvent['eventTime']) => new Date(Number(time?.seconds ?? 0) * 1000 + Math.floor((time?.nanos ?? 0) / 1e6));

function summaryOf(event: HistoryEvent): string | undefined {
  const summary = event.userMetadata?.summary;
  return summary ? (defaultPayloadConverter.fromPayload(summary as never) as string) : undefined;
}

function failureOf(failure: temporal.api.failure.v1.IFailure | null | undefined) {
  let current = failure;
  while (current?.cause && !current.applicationFailureInfo) current = current.cause;
  return {
    errorType: current?.applicationFailureInfo?.type ?? (current?.timeoutFailureInfo ? 'Timeout' : undefined),
    errorMessage: current?.message ?? failure?.message ?? undefined,
  };
}

export function attemptRows(events: HistoryEvent[]): AttemptRow[] {
  const rows = new Map<string, AttemptRow>();
  const scheduledAt = new Map<string, Date>();
  for (const event of events) {
    const id = String(event.eventId);
    const scheduled = event.activityTaskScheduledEventAttributes;
    const child = event.startChildWorkflowExecutionInitiatedEventAttributes;
    if (scheduled || child) {
      const type = scheduled ? scheduled.activityType!.name! : child!.workflowType!.name!;
      const label = summaryOf(event) ?? (child ? `${type} ${child.workflowId}` : type);
      scheduledAt.set(id, toDate(event.eventTime));
      rows.set(id, {
        kind: scheduled ? 'activity' : 'child-workflow',
        label,
        type,
        attempt: Number(/\(attempt (\d+)\)$/.exec(label)?.[1] ?? 1),
        taskQueue: (scheduled ?? child)!.taskQueue?.name ?? undefined,
        startedAt: toDate(event.eventTime).toISOString(),
        durationMs: null,
        outcome: 'running',
        repair: label.startsWith('repair '),
        activityId: scheduled?.activityId ?? undefined,
      });
      continue;
    }
    const end = closingOf(event);
    if (!end) continue;
    const row = rows.get(end.ref);
    if (!row) continue;
    row.outcome = end.outcome;
    row.durationMs = toDate(event.eventTime).getTime() - scheduledAt.get(end.ref)!.getTime();
    Object.assign(row, failureOf(end.failure));
  }
  return [...rows.values()];
}

function closingOf(a: HistoryEvent): { ref: string; outcome: AttemptRow['outcome']; failure?: temporal.api.failure.v1.IFailure | null } | undefined {
  if (a.activityTaskCompletedEventAttributes) return { ref: String(a.activityTaskCompletedEventAttributes.scheduledEventId), outcome: 'completed' };
  if (a.activityTaskFailedEventAttributes) return { ref: String(a.activityTaskFailedEventAttributes.scheduledEventId), outcome: 'failed', failure: a.activityTaskFailedEventAttributes.failure };
  if (a.activityTaskTimedOutEventAttributes) return { ref: String(a.activityTaskTimedOutEventAttributes.scheduledEventId), outcome: 'timed-out', failure: a.activityTaskTimedOutEventAttributes.failure };
  if (a.activityTaskCanceledEventAttributes) return { ref: String(a.activityTaskCanceledEventAttributes.scheduledEventId), outcome: 'cancelled' };
  if (a.childWorkflowExecutionCompletedEventAttributes) return { ref: String(a.childWorkflowExecutionCompletedEventAttributes.initiatedEventId), outcome: 'completed' };
  if (a.childWorkflowExecutionFailedEventAttributes) return { ref: String(a.childWorkflowExecutionFailedEventAttributes.initiatedEventId), outcome: 'failed', failure: a.childWorkflowExecutionFailedEventAttributes.failure };
  if (a.childWorkflowExecutionTimedOutEventAttributes) return { ref: String(a.childWorkflowExecutionTimedOutEventAttributes.initiatedEventId), outcome: 'timed-out' };
  if (a.childWorkflowExecutionCanceledEventAttributes) return { ref: String(a.childWorkflowExecutionCanceledEventAttributes.initiatedEventId), outcome: 'cancelled' };
  if (a.childWorkflowExecutionTerminatedEventAttributes) return { ref: String(a.childWorkflowExecutionTerminatedEventAttributes.initiatedEventId), outcome: 'terminated' };
  return undefined;
}

/** The attempt rows of a workflow and, below each child workflow's row, those of the child. */
export async function collectAttempts(client: Client, workflowId: string, prefix = ''): Promise<AttemptRow[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const rows: AttemptRow[] = [];
  const childIds = new Map(
    history.events!
      .filter((e) => e.childWorkflowExecutionStartedEventAttributes)
      .map((e) => [String(e.childWorkflowExecutionStartedEventAttributes!.initiatedEventId), e.childWorkflowExecutionStartedEventAttributes!.workflowExecution!.workflowId!]),
  );
  const initiated = history.events!.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).map((e) => String(e.eventId));
  const rowsHere = attemptRows(history.events!);
  if (rowsHere.some((row) => row.outcome === 'running')) await addRunningDetails(client, workflowId, rowsHere);
  let childIndex = 0;
  for (const row of rowsHere) {
    rows.push({ ...row, label: prefix + row.label });
    if (row.kind === 'child-workflow') {
      const childId = childIds.get(initiated[childIndex++]);
      if (childId) rows.push(...(await collectAttempts(client, childId, `${prefix}${row.type} › `)));
    }
  }
  return rows;
}

const stepOf = (row: AttemptRow) => row.label.replace(/ \(attempt \d+\)$/, '');

/** Running activities get their heartbeat progress, and running steps the failure that made them retry. */
async function addRunningDetails(client: Client, workflowId: string, rows: AttemptRow[]): Promise<void> {
  const { raw } = await client.workflow.getHandle(workflowId).describe();
  for (const pending of raw.pendingActivities ?? []) {
    const row = rows.find((r) => r.outcome === 'running' && r.activityId === pending.activityId);
    if (!row) continue;
    row.progress = progressOf(pending.heartbeatDetails);
    if (pending.lastFailure?.message) row.lastFailure = pending.lastFailure.message;
  }
  rows.forEach((row, index) => {
    if (row.outcome !== 'running' || row.lastFailure) return;
    const previous = rows.slice(0, index).findLast((r) => r.outcome === 'failed' && stepOf(r) === stepOf(row));
    if (previous) row.lastFailure = `${previous.errorType ? `${previous.errorType}: ` : ''}${previous.errorMessage ?? ''}`;
  });
}
