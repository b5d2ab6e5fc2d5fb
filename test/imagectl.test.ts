import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { withTestWorker } from './helpers/testWorker';
import { devStack, stackEnvironment } from '../dev/config';
import { connectClient, uniqueId } from './helpers/temporal';
import { attemptProbe } from './workflows/attemptProbe';

const require = createRequire(import.meta.url);
const imagectl = (args: string[]) => execa('tsx', ['cli/imagectl.ts', ...args], { env: stackEnvironment(), reject: false });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'imagectl-'));
const writeSpec = (name: string, text: string) => {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
};

describe('imagectl validate', () => {
  it('accepts a valid spec', async () => {
    const file = writeSpec('ok.yaml', 'workflow: importImage\nname: compute-base\nrootfs:\n  file: /srv/rootfs.squashfs\n');
    const run = await imagectl(['validate', file]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('valid importImage spec');
  });

  it('reports every problem at once with its path and line, and exits 2', async () => {
    const file = writeSpec(
      'bad.yaml',
      ['workflow: importImage', 'name: ""', 'rootfs:', '  s3: boot-images/no-scheme', 'kernel:', '  file: /boot/vmlinuz', 'partSizeMiB: 2', 'colour: blue', ''].join('\n'),
    );
    const run = await imagectl(['validate', file, '--json']);
    expect(run.exitCode).toBe(2);
    const { error } = JSON.parse(run.stdout);
    expect(error).toContain('4 problems');
    expect(error).toMatch(/name \(line 2\): image name is empty/);
    expect(error).toMatch(/rootfs\.s3 \(line 4\): must be an s3:\/\/bucket\/key URL|rootfs \(line 4\)/);
    expect(error).toMatch(/partSizeMiB \(line 7\): .*5/);
    expect(error).toMatch(/colour/);
  });

  it('names an unknown workflow type and a file that is not YAML', async () => {
    expect((await imagectl(['validate', writeSpec('w.yaml', 'workflow: deployEverything\n')])).stderr).toMatch(/unknown workflow type "deployEverything"/);
    for (const inherited of ['toString', '__proto__', 'constructor']) {
      const answer = await imagectl(['validate', writeSpec('w.yaml', `workflow: ${inherited}\n`)]);
      expect(answer.exitCode).toBe(2);
      expect(answer.stderr).toMatch(new RegExp(`unknown workflow type "${inherited}"`));
    }
    const broken = await imagectl(['validate', writeSpec('broken.yaml', 'name: [unclosed\n')]);
    expect(broken.exitCode).toBe(2);
    expect(broken.stderr).toMatch(/line \d+/);
    expect((await imagectl(['validate', path.join(tmp, 'missing.yaml')])).stderr).toMatch(/cannot read: ENOENT/);
  });

  it('exits 2 with usage on an unknown command', async () => {
    const run = await imagectl(['frobnicate']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('usage: imagectl');
  });
});

describe('imagectl history', () => {
  it('lists every attempt with its number, outcome, error and the repair between them', async () => {
    let calls = 0;
    const activities = {
      async flaky() {
        calls++;
        if (calls === 1) throw ApplicationFailure.create({ type: 'ServiceUnavailable', message: 'IMS: 503 Service Unavailable' });
        if (calls === 2) throw ApplicationFailure.create({ type: 'ManifestEtagFault', message: 'etag missing', nonRetryable: true });
        return 'ok';
      },
      async repair() {},
    };
    const workflowId = uniqueId('history');
    await withTestWorker({ workflowsPath: require.resolve('./workflows/attemptProbe.ts'), activities }, async ({ client, taskQueue }) => {
      await client.workflow.execute(attemptProbe, { taskQueue, workflowId, args: [{ failures: [], repairType: 'ManifestEtagFault' }] });
    });
    const run = await imagectl(['history', workflowId, '--json']);
    expect(run.exitCode).toBe(0);
    const rows = JSON.parse(run.stdout).attempts;
    expect(rows.map((r: { label: string; attempt: number; outcome: string; errorType?: string; repair: boolean }) => [r.label, r.attempt, r.outcome, r.errorType ?? null, r.repair])).toEqual([
      ['flaky step', 1, 'failed', 'ServiceUnavailable', false],
      ['flaky step (attempt 2)', 2, 'failed', 'ManifestEtagFault', false],
      ['repair ManifestEtagFault for flaky step', 1, 'completed', null, true],
      ['flaky step (attempt 3)', 3, 'completed', null, false],
    ]);
    const text = await imagectl(['history', workflowId]);
    expect(text.stdout).toMatch(/ATTEMPT\s+OUTCOME/);
    expect(text.stdout).toMatch(/2\s+failed\s+flaky step\s+flaky\s+ManifestEtagFault: etag missing/);
    expect(text.stdout).toMatch(/repaired\s+repair ManifestEtagFault for flaky step/);
  });

  it('shows a running try with its heartbeat progress and the failure of the try before it', async () => {
    let calls = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const activities = {
      async flaky() {
        calls++;
        if (calls === 1) throw ApplicationFailure.create({ type: 'ServiceUnavailable', message: 'S3: 503 Slow Down' });
        Context.current().heartbeat({ bytesDone: 3 * 1024 * 1024, bytesTotal: 12 * 1024 * 1024 });
        await released;
        return 'ok';
      },
      async repair() {},
    };
    const workflowId = uniqueId('history-running');
    await withTestWorker({ workflowsPath: require.resolve('./workflows/attemptProbe.ts'), activities }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start(attemptProbe, { taskQueue, workflowId, args: [{ failures: [], slow: true }] });
      try {
        const running = async () => {
          const rows = JSON.parse((await imagectl(['history', workflowId, '--json'])).stdout).attempts as { outcome: string; progress?: object; lastFailure?: string }[];
          return rows.find((r) => r.outcome === 'running' && r.progress);
        };
        await expect.poll(running, { timeout: 30_000, interval: 500 }).toMatchObject({
          label: 'flaky step (attempt 2)',
          progress: { done: 3 * 1024 * 1024, total: 12 * 1024 * 1024, unit: 'bytes' },
          lastFailure: 'ServiceUnavailable: S3: 503 Slow Down',
        });
        const text = (await imagectl(['history', workflowId])).stdout;
        expect(text).toMatch(/PROGRESS/);
        expect(text).toMatch(/running\s+flaky step\s+flaky\s+\[#+\.+\]\s+25% 3\.0 MiB \/ 12\.0 MiB\s+last failure: ServiceUnavailable: S3: 503 Slow Down/);
      } finally {
        release();
      }
      await handle.result();
    });
  });

  it('imagectl status exits 1 for a workflow that failed, 0 for one that completed', async () => {
    const client = await connectClient();
    try {
      const failed = uniqueId('status-failed');
      await client.workflow.execute('importImage', { taskQueue: devStack.temporal.taskQueue, workflowId: failed, args: [{ name: '' }] }).catch(() => undefined);
      const shown = await imagectl(['status', failed]);
      expect(shown.exitCode, shown.stdout).toBe(1);
      expect(shown.stdout).toContain(`${failed}: FAILED`);
      const completed = uniqueId('status-completed');
      await client.workflow.execute('checkStack', { taskQueue: devStack.temporal.taskQueue, workflowId: completed, args: [{ bucket: 'boot-images', iscsiServers: [devStack.iscsiServers[0].name] }] });
      expect((await imagectl(['status', completed])).exitCode).toBe(0);
    } finally {
      await client.connection.close();
    }
  });

  it('exits 3 for a workflow that does not exist', async () => {
    expect((await imagectl(['history', uniqueId('nope')])).exitCode).toBe(3);
  });
});
