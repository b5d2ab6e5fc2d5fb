// The workflows a boot parameters test worker registers: the real ones, and a stand-in for
// `validateInitiators` that fails on the nodes it is told to.
import { ApplicationFailure, sleep } from '@temporalio/workflow';

export { updateBootParameters } from '../../workflows/updateBootParameters';
export { rollbackBootParameters } from '../../workflows/rollbackBootParameters';

export async function validateInitiators(input: { nodes: string[]; failNodes?: string[]; takesMs?: number }): Promise<{ passed: number }> {
  if (input.takesMs) await sleep(input.takesMs);
  const failing = input.nodes.filter((node) => input.failNodes?.includes(node));
  if (failing.length) {
    throw ApplicationFailure.create({
      type: 'ValidationFailed',
      message: failing.map((node) => `${node}: LUN identity mismatch`).join('; '),
      nonRetryable: true,
    });
  }
  return { passed: input.nodes.length };
}
