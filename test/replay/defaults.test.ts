// Defaults are resolved once, when the input enters, and recorded (resolveWorkflowInput, a local
// activity whose result is in the history): a replay takes them from there. Here every recorded
// history replays against a bundle whose every zod default throws, so a workflow that parsed its
// input (or anything else with a default) in workflow code would fail, and a changed default would
// change what a running workflow does on its next replay.
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const { temporal } = proto;
const require = createRequire(import.meta.url);
const dir = path.join(import.meta.dirname, 'histories');
const projectRoot = path.resolve(import.meta.dirname, '../..');
const ourSources = ['lib', 'workflows', 'activities'].map((sub) => path.join(projectRoot, sub) + path.sep);

describe('workflow input defaults', () => {
  it('are taken from the history on replay, never recomputed by workflow code', async () => {
    const files = fs.readdirSync(dir).filter((file) => file.endsWith('.binpb'));
    const histories = files.map((file) => ({ workflowId: file.slice(file.indexOf('.') + 1, -'.binpb'.length), history: temporal.api.history.v1.History.decode(fs.readFileSync(path.join(dir, file))) }));
    const failures: string[] = [];
    const options = {
      workflowsPath: require.resolve('../../workflows/index.ts'),
      bundlerOptions: {
        webpackConfigHook: (config: { module?: { rules?: unknown[] } }) => {
          config.module?.rules?.push({ test: /\.ts$/, include: (file: string) => ourSources.some((root) => file.startsWith(root)), enforce: 'pre', use: [require.resolve('./throwOnDefaults.cjs')] });
          return config;
        },
      },
    };
    for await (const result of Worker.runReplayHistories(options as Parameters<typeof Worker.runReplayHistories>[0], histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
