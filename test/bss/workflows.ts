// The workflows a boot parameters test worker registers: the real ones, and a stand-in for
// `validateInitiators` that checks no node: the test's `standInVerdict` activity says which nodes fail
// and how long the check takes (its input is a real validation's, held to the rollout's schema).
import { ApplicationFailure, condition, defineSignal, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { StandInVerdict } from './helpers';

export { updateBootParameters } from '../../workflows/updateBootParameters';
export { rollbackBootParameters } from '../../workflows/rollbackBootParameters';

const { standInVerdict } = proxyActivities<{ standInVerdict(): Promise<StandInVerdict> }>({ startToCloseTimeout: '1m' });

export async function validateInitiators(input: { nodes: string[] }): Promise<{ passed: number }> {
  let finished = false;
  setHandler(defineSignal('finishValidation'), () => void (finished = true));
  const { failNodes, takesMs, untilSignalled } = await standInVerdict();
  if (takesMs) await sleep(takesMs);
  if (untilSignalled) await condition(() => finished);
  const failing = input.nodes.filter((node) => failNodes.includes(node));
  if (failing.length) {
    throw ApplicationFailure.create({
      type: 'ValidationFailed',
      message: failing.map((node) => `${node}: LUN identity mismatch`).join('; '),
      nonRetryable: true,
    });
  }
  return { passed: input.nodes.length };
}
