// imagectl list: the running and recent lifecycles and phases, from Temporal's visibility store
// (the search attributes ImageId, ImageName and Phase every workflow here sets).
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { workflowInputSchemas } from '../lib/specs/registry';
import type { WorkflowStatus } from '../workflows/support/status';
import { UsageError } from './exitCodes';

export interface ListFilters {
  /** Image ids or names (either matches). */
  images?: string[];
  phase?: string;
  status?: string;
  limit: number;
}

export interface ListedWorkflow {
  workflowId: string;
  type: string;
  imageName?: string;
  imageId?: string;
  phase?: string;
  status: string;
  startedAt: string;
  closedAt?: string;
  awaitingApproval: boolean;
}

// Temporal's visibility names of the execution statuses.
const statuses: Record<string, string> = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Canceled',
  canceled: 'Canceled',
  terminated: 'Terminated',
  'timed-out': 'TimedOut',
  timedout: 'TimedOut',
  'continued-as-new': 'ContinuedAsNew',
};

const quoted = (value: string) => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function visibilityQuery(filters: ListFilters): string {
  const clauses = [`WorkflowType IN (${Object.keys(workflowInputSchemas).map(quoted).join(', ')})`];
  if (filters.images?.length) {
    const values = filters.images.map(quoted).join(', ');
    clauses.push(`(ImageId IN (${values}) OR ImageName IN (${values}))`);
  }
  if (filters.phase) clauses.push(`Phase = ${quoted(filters.phase)}`);
  if (filters.status) {
    const status = statuses[filters.status.toLowerCase()];
    if (!status) throw new UsageError(`--status ${filters.status}: give one of ${Object.keys(statuses).filter((s) => s !== 'canceled' && s !== 'timedout').join(', ')}`);
    clauses.push(`ExecutionStatus = ${quoted(status)}`);
  }
  return clauses.join(' AND ');
}

const keyword = (info: WorkflowExecutionInfo, name: string) => {
  const value = info.typedSearchAttributes.getAll().find((pair) => pair.key.name === name)?.value;
  return typeof value === 'string' ? value : undefined;
};

/** A running workflow waits for an operator when it, or the phase it runs (a lifecycle's child), says so. */
async function awaitsApproval(client: Client, workflowId: string, depth = 0): Promise<boolean> {
  const status = await client.workflow.getHandle(workflowId).query<WorkflowStatus>('status').catch(() => undefined);
  if (status?.step === 'awaiting approval') return true;
  const child = status?.details.currentChild;
  return depth === 0 && typeof child === 'string' ? awaitsApproval(client, child, 1) : false;
}

export async function listWorkflows(client: Client, filters: ListFilters): Promise<ListedWorkflow[]> {
  const listed: ListedWorkflow[] = [];
  for await (const info of client.workflow.list({ query: visibilityQuery(filters) })) {
    const running = info.status.name === 'RUNNING';
    listed.push({
      workflowId: info.workflowId,
      type: info.type,
      imageName: keyword(info, 'ImageName'),
      imageId: keyword(info, 'ImageId'),
      phase: keyword(info, 'Phase'),
      status: info.status.name,
      startedAt: info.startTime.toISOString(),
      closedAt: info.closeTime?.toISOString(),
      awaitingApproval: running && (await awaitsApproval(client, info.workflowId)),
    });
    if (listed.length >= filters.limit) break;
  }
  return listed;
}
