// Records the replay test's fixtures: for each workflow type, the latest closed execution on the
// dev stack's Temporal, started after --since (so it ran the current workflow code), saved as
// test/replay/histories/<type>.<workflow id>.binpb beside the earlier ones. Run after a suite run on the code the fixtures must hold:
//   tsx test/replay/recordHistories.ts --since 2026-12-01T23:46:30Z
import proto from '@temporalio/proto';

const { temporal } = proto;
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { connectClient } from '../helpers/temporal';
import { replayedTypes } from './types';

const { values } = parseArgs({ options: { since: { type: 'string' } } });
if (!values.since) throw new Error('give --since <ISO time>: executions started after the workflow code was last changed');
const client = await connectClient();
const dir = path.join(import.meta.dirname, 'histories');
for (const type of replayedTypes) {
  const query = `WorkflowType = '${type}' AND ExecutionStatus != 'Running' AND StartTime > '${values.since}'`;
  // The longest of the recent ones: it exercises the most of the type's code.
  let found: { workflowId: string; runId: string; status: string; length: number } | undefined;
  let seen = 0;
  for await (const execution of client.workflow.list({ query })) {
    if (!found || execution.historyLength > found.length) found = { workflowId: execution.workflowId, runId: execution.runId, status: execution.status.name, length: execution.historyLength };
    if (++seen >= 50) break;
  }
  if (found) {
    // Binary protobuf: the SDK's proto-JSON reader trips over the two protobufjs copies npm installs.
    const history = await client.workflow.getHandle(found.workflowId, found.runId).fetchHistory();
    // The workflow id is in the name: a replay needs it (child workflow ids derive from it).
    fs.writeFileSync(path.join(dir, `${type}.${found.workflowId}.binpb`), temporal.api.history.v1.History.encode(history).finish());
    console.log(`${type}: ${found.workflowId} (${found.status}, ${found.length} events)`);
  }
  if (!found) console.log(`${type}: no closed execution since ${values.since}`);
}
await client.connection.close();
