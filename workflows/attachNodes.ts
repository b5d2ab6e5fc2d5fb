// attachNodes: the attach phase, for nodes booting the image in the project's initramfs
// (node/initramfs/bootimg-root): in chunks, each node is waited for until it answers SSH from that
// initramfs, checked to wait for exactly this image (WWID, key and CHAP references on its command line),
// and gets its CHAP credentials and LUKS key pushed into /dev/shm (activities/node/activities.ts). Every
// node's outcome is in the history, in its chunk's activity result; nothing secret is: the activity reads
// the key and the credentials from their stores by reference.
import type { NodeAttachOutcome } from '../activities/node/activities';
import { inBatches } from '../lib/bootParams';
import { FailureType, permanentFailure } from '../lib/failures';
import { AttachNodesSpec } from '../lib/specs/attachSpec';
import type { OrchestratorActivities } from '../activities/orchestrator';
import { labelledActivities } from './support/activities';
import { attempt } from './support/attempt';
import { parseInput } from './support/input';
import { inLanes } from './support/lanes';
import { trackStatus } from './support/status';

export interface AttachNodesResult {
  nodes: number;
  attached: number;
  /** The first failures (`firstFailures`); `failed` counts them all. */
  failed: number;
  firstFailures: Exclude<NodeAttachOutcome, { outcome: 'attached' }>[];
  /** Longest a node took to be waiting in its initramfs, from the phase's start. */
  slowestSeconds: number;
}

export async function attachNodes(raw: unknown): Promise<AttachNodesResult> {
  const spec = await parseInput(AttachNodesSpec, raw, 'attach spec');
  const status = trackStatus('attach');
  const nodeSide = labelledActivities<OrchestratorActivities>({
    startToCloseTimeout: `${spec.waitSeconds + 600}s`,
    heartbeatTimeout: '1m',
    retry: { maximumAttempts: 1 },
  });
  const chunks = inBatches(spec.nodes, spec.chunkSize);
  const result: AttachNodesResult = { nodes: spec.nodes.length, attached: 0, failed: 0, firstFailures: [], slowestSeconds: 0 };
  status.step(`waiting for ${spec.nodes.length} node(s) in their initramfs (up to ${spec.waitSeconds} s each)`);

  await inLanes(chunks, spec.chunksInFlight, async (nodes, index) => {
    const outcomes = await attempt(`attach nodes ${nodes[0]}… (chunk ${index + 1}/${chunks.length})`, (label, previous) =>
      nodeSide(label).attachNodeChunk({
        nodes,
        iscsi: spec.iscsi,
        ...(spec.chap ? { chap: spec.chap } : {}),
        waitSeconds: spec.waitSeconds,
        alreadyAttached: (previous?.heartbeatDetails as { attached?: Extract<NodeAttachOutcome, { outcome: 'attached' }>[] } | undefined)?.attached ?? [],
      }),
    );
    for (const outcome of outcomes) {
      result.slowestSeconds = Math.max(result.slowestSeconds, outcome.waitedSeconds);
      if (outcome.outcome === 'attached') result.attached++;
      else {
        result.failed++;
        if (result.firstFailures.length < spec.firstFailures) result.firstFailures.push(outcome);
      }
    }
    status.detail('attached', result.attached);
    status.detail('failed', result.failed);
  });

  if (result.failed) {
    const named = result.firstFailures.map((f) => `${f.node}: ${f.message}`).join('; ');
    const more = result.failed > result.firstFailures.length ? `; and ${result.failed - result.firstFailures.length} more` : '';
    throw permanentFailure(FailureType.NodesNotAttached, `${result.failed} of ${result.nodes} node(s) did not get their secrets: ${named}${more}`, result);
  }
  status.step('done');
  return result;
}
