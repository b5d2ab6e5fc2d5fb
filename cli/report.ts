// imagectl report: a validation's per-node report, read from S3 where the validation wrote it (its
// summary's `report` URL: report.json, then one part per batch), for a validateInitiators workflow, a
// lifecycle's validate phase or a rollout's canary validation.
import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ObjectStore } from '../activities/manifest/objectStore';
import { createS3Client, s3SettingsFromEnv } from '../activities/s3/client';
import type { NodeVerdict, ServerTarget } from '../lib/nodeChecks';
import { groupFailures, type ReportGroups } from '../lib/validationReport';
import type { ValidationSummary } from '../workflows/validateInitiators';
import { UsageError } from './exitCodes';
import { table } from './render';

export interface ValidationReport {
  workflowId: string;
  report: string;
  imageId?: string;
  rootfs: { path: string; etag: string };
  servers: string[];
  startedAt: string;
  finishedAt: string;
  verdicts: NodeVerdict[];
  groups: ReportGroups;
}

/** Where each workflow type keeps its validation: itself, or a child of its own. */
const validationOf: Record<string, (workflowId: string) => string> = {
  validateInitiators: (id) => id,
  imageLifecycle: (id) => `${id}.validate`,
  updateBootParameters: (id) => `${id}-validate-canary`,
};

async function summaryOf(client: Client, workflowId: string): Promise<ValidationSummary> {
  const handle = client.workflow.getHandle(workflowId);
  const description = await handle.describe();
  const childId = validationOf[description.type]?.(workflowId);
  if (!childId) throw new UsageError(`${workflowId} is a ${description.type} workflow: give a validateInitiators, imageLifecycle or updateBootParameters workflow id`);
  if (childId !== workflowId) {
    return summaryOf(client, childId).catch((error: unknown) => {
      if (error instanceof WorkflowNotFoundError) throw new Error(`${workflowId} ran no validation (no workflow ${childId})`);
      throw error;
    });
  }
  if (description.status.name === 'RUNNING') throw new Error(`${workflowId} is still running: its report is written when it ends (imagectl watch ${workflowId})`);
  try {
    return (await handle.result()) as ValidationSummary;
  } catch (error) {
    if (!(error instanceof WorkflowFailedError)) throw error;
    const cause = error.cause as { message?: string; details?: unknown[] } | undefined;
    const summary = cause?.details?.[0] as ValidationSummary | undefined;
    if (!summary?.report) throw new Error(`${workflowId} failed before any node was checked, so it wrote no report: ${cause?.message ?? error.message}`);
    return summary;
  }
}

function objectStore(): ObjectStore {
  try {
    return new ObjectStore(createS3Client(s3SettingsFromEnv()));
  } catch (error) {
    throw new UsageError(`report reads the validation's report from S3: ${(error as Error).message}`);
  }
}

const partsAtOnce = 16;

export async function loadValidationReport(client: Client, workflowId: string, firstNodes: number): Promise<ValidationReport> {
  const summary = await summaryOf(client, workflowId);
  const store = objectStore();
  const document = JSON.parse(await store.getText(summary.report)) as { imageId?: string; rootfs: { path: string; etag: string }; targets: ServerTarget[]; startedAt: string; finishedAt: string; parts: string[] };
  // A few parts at a time: a validation of 10,000 nodes in small batches has thousands.
  const verdicts: NodeVerdict[] = [];
  for (let start = 0; start < document.parts.length; start += partsAtOnce) {
    const parts = await Promise.all(document.parts.slice(start, start + partsAtOnce).map(async (url) => (JSON.parse(await store.getText(url)) as { nodes: NodeVerdict[] }).nodes));
    verdicts.push(...parts.flat());
  }
  const servers = document.targets.map((t) => t.server);
  return {
    workflowId: summary.workflowId,
    report: summary.report,
    imageId: document.imageId,
    rootfs: document.rootfs,
    servers,
    startedAt: document.startedAt,
    finishedAt: document.finishedAt,
    verdicts,
    groups: groupFailures(verdicts, servers, firstNodes),
  };
}

const breakdownText = (breakdown: Record<string, number>) =>
  Object.entries(breakdown)
    .sort(([, a], [, b]) => b - a)
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');

export function reportText(report: ValidationReport): string {
  const { groups } = report;
  const groupTable = (title: string, name: string, within: string, rows: ReportGroups['byCheck']) =>
    rows.length ? [title, table([name, 'NODES', within, 'FIRST NODES'], rows.map((g) => [g.name, String(g.nodes), breakdownText(g.breakdown), g.firstNodes.join(',')]))] : [];
  return [
    `validation ${report.workflowId}${report.imageId ? ` of image ${report.imageId}` : ''}: ${groups.nodes} nodes, ${groups.passed} passed, ${groups.degraded} degraded (failed on some servers), ${groups.failed} failed`,
    `  servers: ${report.servers.join(', ')}; report: ${report.report}`,
    ...groupTable('failures by check:', 'CHECK', 'ON SERVERS', groups.byCheck),
    ...groupTable('failures by iSCSI server:', 'SERVER', 'CHECKS', groups.byServer),
  ].join('\n');
}
