// The Temporal UI shows what an operator needs to follow a retried step: a browser (playwright-core
// driving Debian's chromium, headless) finds an importImage run by its ImageId search attribute,
// opens it, and finds the failed attempt of its faulted activity in the event history.
// An imageLifecycle started from the UI's Start Workflow form runs to completion on its workflow page,
// and a malformed input started there fails with the schema's issues on that page.
// The page `imagectl report --html` writes for a real validation with failing nodes shows every node as a
// cell of a cabinet/chassis grid, coloured by verdict, with the failing check in its hover title.
// Screenshots are saved under .dev/screenshots/ (git-ignored).
import type { Client } from '@temporalio/client';
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devStack, stackEnvironment, stateDir } from '../dev/config';
import { makeSampleImage } from '../dev/sampleImage';
import { verdictColours } from '../cli/reportHtml';
import { importImage } from '../workflows/importImage';
import { validateInitiators } from '../workflows/validateInitiators';
import { connectClient, uniqueId } from './helpers/temporal';
import { setSimFaults } from './helpers/simFaults';
import { createTestBed, iqnPattern, type TestBed } from './initiator/helpers';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const screenshotDir = path.join(stateDir, 'screenshots');
const injectedMessage = '503 Service Unavailable: injected by the simulator';

let client: Client;
let browser: Browser;
beforeAll(async () => {
  client = await connectClient();
});
afterAll(async () => {
  await browser?.close();
  await client?.connection.close();
});

/** Fails the test (rather than skipping it) when Chromium is missing. */
async function launchChromium(): Promise<Browser> {
  try {
    fs.accessSync(chromiumPath, fs.constants.X_OK);
  } catch {
    throw new Error(`no Chromium at ${chromiumPath}: install Debian's chromium package (bash dev/setup.sh, or apt-get install chromium), or set CHROMIUM_PATH`);
  }
  // --no-sandbox: the suite runs as root here, and Chromium refuses its sandbox as root.
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** Runs `check` on a fresh page; on failure, saves what the page showed next to the screenshots. */
async function withPage(name: string, check: (page: Page) => Promise<void>) {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.setDefaultTimeout(20_000);
  try {
    await check(page);
  } catch (error) {
    fs.mkdirSync(screenshotDir, { recursive: true });
    const file = path.join(screenshotDir, `${name}-failure.png`);
    await page.screenshot({ path: file }).catch(() => undefined);
    console.log(`UI test failed at ${page.url()}; screenshot: ${file}`);
    throw error;
  } finally {
    await page.close();
  }
}

describe('the Temporal UI of the dev stack', () => {
  it('finds an import by its ImageId and shows the failed attempt of its faulted activity in the event history', { timeout: 90_000 }, async () => {
    browser ??= await launchChromium();
    const sample = await makeSampleImage(fs.mkdtempSync(path.join(os.tmpdir(), 'ui-')), { payloadMiB: 1, label: uniqueId('ui') });
    const workflowId = uniqueId('import-ui');
    await setSimFaults({ failNext: 1, errorStatus: 503, errorPathPrefix: '/apis/ims' });
    let imageId: string;
    try {
      ({ imageId } = await client.workflow.execute(importImage, {
        taskQueue: devStack.temporal.taskQueue,
        workflowId,
        args: [{ name: 'ui-503', rootfs: { file: sample.rootfs } }],
      }));
    } finally {
      await setSimFaults({ failNext: 0, errorPathPrefix: '/apis/' });
    }
    const query = `ImageId="${imageId}"`;
    // The list page reads the visibility store: wait until it answers the query, so the UI is not raced.
    for (const deadline = Date.now() + 10_000; ; await new Promise((resolve) => setTimeout(resolve, 200))) {
      const found = [];
      for await (const execution of client.workflow.list({ query })) found.push(execution.workflowId);
      if (found.includes(workflowId)) break;
      if (Date.now() > deadline) throw new Error(`visibility does not list ${workflowId} for ${query} (found: ${found.join(', ') || 'none'})`);
    }

    await withPage(`ui-${workflowId}`, async (page) => {
      const base = `${devStack.temporal.uiUrl}/namespaces/${devStack.temporal.namespace}`;
      await page.goto(`${base}/workflows?query=${encodeURIComponent(query)}`);
      const link = page.getByRole('link', { name: workflowId, exact: true });
      await link.waitFor();
      // The query was applied: only this run carries this image id.
      expect(await page.getByTestId('workflows-summary-configurable-table-row').count()).toBe(1);

      await link.click();
      await page.waitForURL(new RegExp(`/workflows/${workflowId}/[^/]+/`));
      await page.getByRole('tab', { name: /Event History/ }).click();
      await page.waitForURL(/\/history$/);
      await page.getByTestId('feed').click(); // the "All" view: one row per event
      const events = page.getByTestId('event-summary-row');
      // The whole history is on the page once both its first and its last event are.
      await events.and(page.locator('[data-eventid="1"]')).waitFor();
      await events.filter({ hasText: 'Workflow Execution Completed' }).waitFor();

      const failed = events.filter({ hasText: 'Activity Task Failed' });
      expect(await failed.count(), 'Activity Task Failed rows in the event history').toBe(1);
      const failedRow = failed.first();
      expect(await failedRow.innerText()).toContain(injectedMessage);
      // The retry is an activity of its own, labelled in its summary.
      await events.filter({ hasText: 'Activity Task Scheduled' }).filter({ hasText: 'create IMS image record (attempt 2)' }).waitFor();

      // Expanded, the failed event shows its activity's summary and the whole failure message.
      await failedRow.getByRole('button', { name: 'Expand details' }).click();
      const details = page.getByTestId('event-summary-row-expanded');
      await details.getByText('create IMS image record', { exact: true }).waitFor();
      await details.getByText(`IMS: GET /apis/ims/v3/images: ${injectedMessage}`).first().waitFor();

      await failedRow.evaluate((row) => row.scrollIntoView({ block: 'center' }));
      fs.mkdirSync(screenshotDir, { recursive: true });
      const screenshot = path.join(screenshotDir, `ui-${workflowId}.png`);
      await page.screenshot({ path: screenshot });
      console.log(`event history screenshot: ${path.relative(process.cwd(), screenshot)}`);
    });
  });

  /** Fills the Start Workflow form as an operator does and starts; then opens the run from the UI's notice. */
  async function startFromForm(page: Page, form: { workflowId: string; workflowType: string; input: string }) {
    await page.goto(`${devStack.temporal.uiUrl}/namespaces/${devStack.temporal.namespace}/workflows/start-workflow`);
    await page.getByTestId('workflowId').fill(form.workflowId);
    await page.getByTestId('taskQueue').fill(devStack.temporal.taskQueue);
    await page.getByTestId('workflowType').fill(form.workflowType);
    await page.getByRole('textbox', { name: 'Data' }).click();
    await page.keyboard.insertText(form.input);
    // The input editor commits its text only when it loses focus.
    await page.getByTestId('workflowType').click();
    fs.mkdirSync(screenshotDir, { recursive: true });
    await page.screenshot({ path: path.join(screenshotDir, `ui-start-form-${form.workflowId}.png`), fullPage: true });
    await page.getByTestId('start-workflow-button').click();
    await page.getByRole('link', { name: 'Workflow started successfully' }).click();
    await page.waitForURL(new RegExp(`/workflows/${form.workflowId}/[^/]+/`));
  }

  const pageText = (page: Page) => page.locator('main').innerText();

  it('starts an imageLifecycle from the Start Workflow form and shows it completed, with its result, on its page', { timeout: 90_000 }, async () => {
    browser ??= await launchChromium();
    const sample = await makeSampleImage(fs.mkdtempSync(path.join(os.tmpdir(), 'ui-')), { payloadMiB: 1, label: uniqueId('ui-form') });
    const workflowId = uniqueId('ui-form');
    const name = uniqueId('ui-form');
    await withPage(`ui-form-${workflowId}`, async (page) => {
      await startFromForm(page, { workflowId, workflowType: 'imageLifecycle', input: JSON.stringify({ name, import: { rootfs: { file: sample.rootfs }, kernel: { file: sample.kernel } } }) });
      const handle = client.workflow.getHandle(workflowId);
      // The run the form started has the form's type, task queue and input.
      const description = await handle.describe();
      expect([description.type, description.taskQueue]).toEqual(['imageLifecycle', devStack.temporal.taskQueue]);
      // The page follows the run by itself (auto refresh) until it completes.
      await expect.poll(() => pageText(page), { timeout: 60_000, interval: 1000 }).toMatch(/^\s*COMPLETED\s*$/m);
      const { imageId } = (await handle.result()) as { imageId: string };
      expect(await pageText(page)).toContain(`"imageId": "${imageId}"`);
      expect(await pageText(page)).toContain(`"name": "${name}"`);
      await page.screenshot({ path: path.join(screenshotDir, `ui-form-completed-${workflowId}.png`), fullPage: true });
    });
  });

  it('a malformed input started from the form fails at once, the schema\'s issues on the workflow\'s page', { timeout: 60_000 }, async () => {
    browser ??= await launchChromium();
    const workflowId = uniqueId('ui-form-invalid');
    await withPage(`ui-form-invalid-${workflowId}`, async (page) => {
      await startFromForm(page, { workflowId, workflowType: 'imageLifecycle', input: '{"name":"","import":{"rootfs":{"ftp":"x"}},"encrypt":{"luksVersion":3}}' });
      await expect.poll(() => pageText(page), { timeout: 30_000, interval: 1000 }).toMatch(/^\s*FAILED\s*$/m);
      const text = await pageText(page);
      expect(text).toContain('invalid lifecycle spec');
      expect(text).toContain('name: image name is empty');
      expect(text).toContain('import.rootfs: give either');
      expect(text).toMatch(/encrypt\.luksVersion: /);
      expect(text).toContain('InvalidInput');
      await page.screenshot({ path: path.join(screenshotDir, `ui-form-invalid-${workflowId}.png`), fullPage: true });
    });
  });
});

describe('imagectl report of a validation with failing nodes', () => {
  let bed: TestBed;
  let workflowId: string;
  let servers: ReturnType<TestBed['server']>[];
  const imagectl = (args: string[]) => execa('tsx', ['cli/imagectl.ts', ...args], { reject: false, env: stackEnvironment() });

  // Both servers let the first three nodes in; only the first one x3000c0s3b0n0 (degraded: one path
  // left); neither x3001c0s1b0n0 nor nid099 (failed). Every failure is a discovery that does not list the target.
  beforeAll(async () => {
    bed = await createTestBed();
    servers = [bed.server(0), bed.server(1)];
    const artifact = await bed.upload(bed.sample.rootfs);
    const both = ['x3000c0s1b0n0', 'x3000c0s2b0n0', 'x3000c1s1b0n0'];
    await bed.exportOn([servers[0]], artifact, { nodes: [...both, 'x3000c0s3b0n0'] });
    await bed.exportOn([servers[1]], artifact, { nodes: both });
    workflowId = uniqueId('validate-report');
    await bed.worker(async ({ client: testClient, taskQueue }) => {
      const input = {
        nodes: 'x3000c1s1b0n0,x3000c0s[3,1,2]b0n0,x3001c0s1b0n0,nid099',
        rootfs: { path: artifact.path, etag: artifact.etag },
        iscsi: { targets: servers.map((s) => s.target(artifact)) },
        initiator: { driver: 'libiscsi', iqnPattern },
        chap: { userRef: 'chap/user', secretRef: 'chap/password' },
        checks: { wrongChap: false },
        batchSize: 2, // three report parts, read and put back in node-set order
      };
      await testClient.workflow.execute(validateInitiators, { taskQueue, workflowId, args: [input] }).catch(() => undefined);
    });
  });
  afterAll(() => bed?.cleanUp());

  it('groups the failures by check and by iSCSI server, with counts and first nodes, and exits 1', async () => {
    const text = await imagectl(['report', workflowId]);
    expect(text.exitCode, text.stderr).toBe(1);
    expect(text.stdout).toContain(`validation ${workflowId}: 6 nodes, 3 passed, 1 degraded (failed on some servers), 2 failed`);
    expect(text.stdout).toMatch(new RegExp(`discovery\\s+3\\s+${servers[1].name} 3, ${servers[0].name} 2\\s+x3000c0s3b0n0,x3001c0s1b0n0,nid099`));

    const json = await imagectl(['report', workflowId, '--json']);
    const { groups } = JSON.parse(json.stdout);
    expect(groups.byCheck).toEqual([
      { name: 'discovery', nodes: 3, firstNodes: ['x3000c0s3b0n0', 'x3001c0s1b0n0', 'nid099'], breakdown: { [servers[0].name]: 2, [servers[1].name]: 3 }, example: expect.stringMatching(new RegExp(`^${servers[1].name}: .* does not list .* to iqn\\.2026-11\\.test\\.validate:x3000c0s3b0n0`)) },
    ]);
    expect(groups.byServer.map((g: { name: string; nodes: number; firstNodes: string[] }) => [g.name, g.nodes, g.firstNodes])).toEqual([
      [servers[1].name, 3, ['x3000c0s3b0n0', 'x3001c0s1b0n0', 'nid099']],
      [servers[0].name, 2, ['x3001c0s1b0n0', 'nid099']],
    ]);

    const batch = await imagectl(['report', `${workflowId}-batch-0`]);
    expect(batch.exitCode).toBe(2);
    expect(batch.stderr).toContain(`${workflowId}-batch-0 is a validateInitiatorBatch workflow: give a validateInitiators, imageLifecycle or updateBootParameters workflow id`);
  });

  it('--html writes a page with every node as a cell by cabinet/chassis, coloured by verdict, the failing check on hover', { timeout: 60_000 }, async () => {
    browser ??= await launchChromium();
    fs.mkdirSync(screenshotDir, { recursive: true });
    const file = path.join(screenshotDir, `report-${workflowId}.html`);
    const run = await imagectl(['report', workflowId, '--html', file]);
    expect(run.stdout).toContain(`page: ${file}`);
    await withPage(`report-${workflowId}`, async (page) => {
      const external: string[] = [];
      page.on('request', (request) => void (request.url().startsWith('file:') || external.push(request.url())));
      await page.goto(`file://${file}`);
      const rows = page.locator('.row');
      expect(await rows.locator('.label').allInnerTexts()).toEqual(['x3000c0', 'x3000c1', 'x3001c0', 'nid099']);
      expect(await rows.first().locator('.cell').allInnerTexts()).toEqual(['s1b0n0', 's2b0n0', 's3b0n0']);
      const cell = (node: string) => page.locator(`.row .cell[data-node="${node}"]`);
      const background = (node: string) => cell(node).evaluate((element) => element.ownerDocument.defaultView!.getComputedStyle(element).backgroundColor);
      const rgb = (hex: string) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;
      const expected = { x3000c0s1b0n0: 'passed', x3000c0s2b0n0: 'passed', x3000c1s1b0n0: 'passed', x3000c0s3b0n0: 'degraded', x3001c0s1b0n0: 'failed', nid099: 'failed' } as const;
      for (const [node, verdict] of Object.entries(expected)) expect([node, await background(node)]).toEqual([node, rgb(verdictColours[verdict])]);

      await cell('x3000c0s3b0n0').hover();
      const degraded = (await cell('x3000c0s3b0n0').getAttribute('title'))!;
      expect(degraded).toMatch(new RegExp(`^x3000c0s3b0n0: degraded\ndiscovery on ${servers[1].name}: .*does not list`));
      expect(degraded).not.toContain(`on ${servers[0].name}`);
      const failed = (await cell('x3001c0s1b0n0').getAttribute('title'))!;
      for (const server of servers) expect(failed).toContain(`discovery on ${server.name}: `);
      expect(await cell('x3000c0s1b0n0').getAttribute('title')).toMatch(/^x3000c0s1b0n0: passed/);
      expect(external).toEqual([]);
      await page.screenshot({ path: path.join(screenshotDir, `report-${workflowId}.png`), fullPage: true });
    });
  });
});
