// Long outages (DESIGN §4b: step retries are bounded by time, not by count): IMS down for longer than
// the old default budget (5 tries, about 15 s of backoff), then back: the lifecycle waits and completes;
// down past the step's budget: the step fails with the reason. The default budget's arithmetic is
// held against a 15-minute outage. S3 outages: test/faults/s3Wire.test.ts; BSS outages and the
// rollback once BSS answers: test/bss/rollout.test.ts ("BSS outages mid-rollout").
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ChildWorkflowFailure, WorkflowFailedError, type Client } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { devStack } from '../../dev/config';
import { makeSampleImage, type SampleImage } from '../../dev/sampleImage';
import { RetrySpec } from '../../lib/specs/retrySpec';
import { imageLifecycle } from '../../workflows/imageLifecycle';
import { attemptRowsOf } from '../helpers/history';
import { ims } from '../helpers/images';
import { setSimFaults } from '../helpers/simFaults';
import { connectClient, uniqueId } from '../helpers/temporal';

const imsOutage = (on: boolean) => setSimFaults({ errorRate: on ? 1 : 0, errorStatus: 503, errorPathPrefix: on ? '/apis/ims' : '/apis/' });
/** Five tries with backoff doubling from 1 s: what a step waited before budgets were in minutes. */
const oldBudgetSeconds = 1 + 2 + 4 + 8;

let client: Client;
let sample: SampleImage;
beforeAll(async () => {
  client = await connectClient();
  sample = await makeSampleImage(fs.mkdtempSync(path.join(os.tmpdir(), 'outage-')), { payloadMiB: 1, label: uniqueId('outage') });
});
afterEach(() => imsOutage(false));
afterAll(() => client.connection.close());

const lifecycle = (retry: object) => ({ name: uniqueId('outage'), import: { rootfs: { file: sample.rootfs } }, retry });
const failedImsTries = async (workflowId: string) => (await attemptRowsOf(client, workflowId)).filter((row) => row.outcome !== 'completed');

describe('IMS outages', () => {
  it('waits out an outage longer than the old budget, then completes', async () => {
    await imsOutage(true);
    const workflowId = uniqueId('ims-outage');
    const handle = await client.workflow.start(imageLifecycle, { taskQueue: devStack.temporal.taskQueue, workflowId, args: [lifecycle({ budgetMinutes: 1, maxIntervalSeconds: 2 })] });
    await new Promise((resolve) => setTimeout(resolve, (oldBudgetSeconds + 5) * 1000));
    await imsOutage(false);
    const summary = await handle.result();
    expect((await ims.getImage(summary.imageId)).link?.path).toBe(summary.manifest.path);
    expect((await failedImsTries(`${workflowId}.import`)).length).toBeGreaterThan(5);
  });

  it('past the budget, fails the step with the reason and how long it tried', async () => {
    await imsOutage(true);
    const workflowId = uniqueId('ims-outage-long');
    const failure = await client.workflow
      .execute(imageLifecycle, { taskQueue: devStack.temporal.taskQueue, workflowId, args: [lifecycle({ budgetMinutes: 0.1, maxIntervalSeconds: 1 })] })
      .catch((error: WorkflowFailedError) => error);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    // The lifecycle fails with its import phase's failure as the cause.
    const phase = (failure as WorkflowFailedError).cause as ChildWorkflowFailure;
    expect(phase).toBeInstanceOf(ChildWorkflowFailure);
    expect(phase.execution?.workflowId).toBe(`${workflowId}.import`);
    expect(phase.cause).toMatchObject({ type: 'ServiceUnavailable', message: expect.stringMatching(/^create IMS image record: IMS: .*503 Service Unavailable.*\(gave up after \d+ attempts in \d+ s\)$/) });
  });
});

describe('the default retry budget', () => {
  it('outlasts a 15-minute outage: a try falls after it ends, within the budget', () => {
    const defaults = RetrySpec.parse(undefined);
    // Backoff doubles from 1 s to maxIntervalSeconds: after an outage ends, the next try comes at most that much later.
    expect(defaults.budgetMinutes * 60).toBeGreaterThanOrEqual(15 * 60 + defaults.maxIntervalSeconds);
  });
});
