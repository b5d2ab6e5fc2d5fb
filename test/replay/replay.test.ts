// Workflows survive a deploy: the recorded history of every workflow type (test/replay/histories,
// recorded by recordHistories.ts) replays against the current workflow code. Runs are pinned to the
// build they started on (workflows/versioning.ts), so this guards a build id reused for changed code
// and keeps patched() possible (see README, "Upgrading workers"); after a deliberate change of
// history shape, record new histories.
import proto from '@temporalio/proto';

const { temporal } = proto;
import { Worker } from '@temporalio/worker';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayedTypes } from './types';

const require = createRequire(import.meta.url);
const dir = path.join(import.meta.dirname, 'histories');

describe('replay of recorded histories against the current workflow code', () => {
  // <type>.<workflow id>.binpb: the replay needs the id (child workflow ids derive from it).
  const files = fs.readdirSync(dir).filter((file) => file.endsWith('.binpb'));
  const workflowIdOf = (file: string) => file.slice(file.indexOf('.') + 1, -'.binpb'.length);

  it('has a recorded history for every workflow type the orchestrator registers', async () => {
    const registered = Object.keys(await import('../../workflows/index')).sort();
    expect([...replayedTypes].sort()).toEqual(registered);
    const missing = replayedTypes.filter((type) => !files.some((file) => file.split('.')[0] === type));
    expect(missing).toEqual([]);
  });

  it('replays each without a nondeterminism error', async () => {
    const histories = files.map((file) => ({ workflowId: workflowIdOf(file), history: temporal.api.history.v1.History.decode(fs.readFileSync(path.join(dir, file))) }));
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowsPath: require.resolve('../../workflows/index.ts') }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
      replayed++;
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(files.length);
  }, 120_000);
});
