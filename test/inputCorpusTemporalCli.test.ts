// The malformed-input corpus through `temporal workflow start` (the CLI, JSON input) to the dev stack's
// own workers: each case fails at once as InvalidInput naming its field, with no workflow task failure
// (an engine error) on the way and no activity or child started; nothing is written (S3's buckets, the
// CSM simulator's records and the tgtd targets are the same after as before). The valid controls pass
// the workflows' check: started the same way on the queue of a worker with the real workflows and no
// activities, each gets as far as scheduling its first step, which nothing runs.
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsmClient } from '../activities/csm/client';
import { createWorkflowInputActivities } from '../activities/workflowInput';
import { createS3Client } from '../activities/s3/client';
import { tgtadm } from '../activities/tgt/tgtadm';
import { devStack } from '../dev/config';
import { cases, controls, linesNaming, wrongValues } from './helpers/inputCorpus';
import { connectClient, uniqueId } from './helpers/temporal';

// Every chosen case; of the generated ones (each field of each type given each wrong value), each field
// with one wrong value, the next field the next one: every type still meets every kind, in a third of
// the starts (all of them take about a minute here).
const fieldsSeen: Record<string, number> = {};
const subset = cases.filter((c) => c.wrongValue === undefined || c.wrongValue === (fieldsSeen[`${c.type}.${c.path}`] ??= Object.keys(fieldsSeen).length) % wrongValues.length);

const workflowsPath = createRequire(import.meta.url).resolve('../workflows/index.ts');
const s3 = createS3Client(devStack.s3);
const csm = new CsmClient(devStack.csm);

/** Everything a workflow of the corpus could have written: S3 objects, CSM records, iSCSI targets. */
async function worldState() {
  const objects: string[] = [];
  for (const bucket of devStack.s3.buckets) {
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      objects.push(...(page.Contents ?? []).map((o) => `${bucket}/${o.Key} ${o.ETag} ${o.LastModified?.toISOString()}`));
      token = page.NextContinuationToken;
    } while (token);
  }
  const records = await Promise.all(
    ['/apis/ims/v3/images', '/apis/cfs/v3/configurations', '/apis/cfs/v3/sessions', '/apis/bss/boot/v1/bootparameters'].map(async (path) => [path, await csm.request('GET', path)]),
  );
  const targets = await Promise.all(devStack.iscsiServers.map(async (server) => [server.name, (await tgtadm(server.controlPort, ['--op', 'show', '--mode', 'target'])).stdout]));
  return { objects, records, targets };
}

async function startWithCli(type: string, input: unknown, taskQueue: string): Promise<string> {
  const workflowId = uniqueId(`corpus-${type}`);
  await execa('temporal', ['workflow', 'start', '--type', type, '--task-queue', taskQueue, '--workflow-id', workflowId, '--input', JSON.stringify(input)], {
    env: { TEMPORAL_ADDRESS: devStack.temporal.address, TEMPORAL_NAMESPACE: devStack.temporal.namespace },
  });
  return workflowId;
}

/** Runs `work` over `items`, `lanes` at a time (each CLI start is a process; the workers take them in parallel). */
async function inLanes<T>(items: T[], lanes: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: lanes }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

/** Each event of a workflow's history by the name of its attributes (`activityTaskScheduled`, ...). */
const eventKinds = async (client: Client, workflowId: string) =>
  (await client.workflow.getHandle(workflowId).fetchHistory()).events!.map((e) => Object.keys(e).find((key) => key.endsWith('EventAttributes') && e[key as keyof typeof e])!.replace(/EventAttributes$/, ''));
/** An engine error (a workflow task that failed or timed out), or a first step: none may follow a refused input. */
const engineErrorOrWork = /^(workflowTaskFailed|workflowTaskTimedOut|activityTaskScheduled|startChildWorkflowExecutionInitiated|timerStarted)$/;
const firstStep = /^(activityTaskScheduled|startChildWorkflowExecutionInitiated)$/;

describe('the malformed-input corpus through `temporal workflow start`', () => {
  let client: Client;
  let before: Awaited<ReturnType<typeof worldState>>;
  beforeAll(async () => {
    client = await connectClient();
    before = await worldState();
  });
  afterAll(() => client?.connection.close());

  it(`refuses each case of a subset (${subset.length} of ${cases.length}) as InvalidInput naming its field, and writes nothing`, { timeout: 600_000 }, async () => {
    const wrong: string[] = [];
    await inLanes(subset, 6, async ({ name, type, input, path: field, message }) => {
      const workflowId = await startWithCli(type, input, devStack.temporal.taskQueue);
      const outcome = await client.workflow.getHandle(workflowId).result().then(
        () => 'completed',
        (error: unknown) => error,
      );
      const failure = outcome instanceof WorkflowFailedError ? outcome.cause : undefined;
      if (!(failure instanceof ApplicationFailure) || failure.type !== 'InvalidInput' || !failure.nonRetryable) {
        wrong.push(`${name}: ${outcome instanceof Error ? `${outcome.message} / ${failure?.message}` : outcome}`);
        return;
      }
      const issues = (failure.details?.[0] as { issues: string[] }).issues;
      const named = linesNaming(issues, field);
      if (!named.length || (message && !message.test(named.join(' | ')))) wrong.push(`${name}: ${field} not named in ${issues.join(' | ')}`);
      if (!failure.message.includes(issues[0])) wrong.push(`${name}: the failure's message does not carry the issue: ${failure.message}`);
      const events = (await eventKinds(client, workflowId)).filter((kind) => engineErrorOrWork.test(kind));
      if (events.length) wrong.push(`${name}: ${events.join(', ')}`);
    });
    expect(wrong).toEqual([]);
    expect(await worldState()).toEqual(before);
  });

  it('accepts the valid controls: each workflow passes its check and schedules its first step', { timeout: 300_000 }, async () => {
    const taskQueue = uniqueId('corpus-controls');
    // The real workflows, and of the activities only the one resolving their input: a first step is
    // scheduled and never runs, so nothing is touched.
    const connection = await NativeConnection.connect({ address: devStack.temporal.address });
    const worker = await Worker.create({ connection, namespace: devStack.temporal.namespace, taskQueue, workflowsPath, activities: createWorkflowInputActivities() });
    const started: Record<string, string> = {};
    await worker.runUntil(async () => {
      for (const [type, control] of Object.entries(controls)) started[type] = await startWithCli(type, control, taskQueue);
      for (const [type, workflowId] of Object.entries(started)) {
        let events: string[] = [];
        for (let i = 0; i < 200 && !events.some((kind) => firstStep.test(kind)); i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          events = await eventKinds(client, workflowId);
        }
        expect(events, type).not.toContain('workflowExecutionFailed');
        expect(events.some((kind) => firstStep.test(kind)), `${type}: ${events.join(', ')}`).toBe(true);
        await client.workflow.getHandle(workflowId).terminate('corpus control: its check passed');
      }
    }).finally(() => connection.close());
  });
});
