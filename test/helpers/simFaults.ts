// The CSM simulator's fault switches (sim/faults.ts), flipped at run time by tests.
import { devStack } from '../../dev/config';

export const noSimFaults = { errorRate: 0, failNext: 0, latencyMs: 0, hangSessions: false, etaglessResultsNext: 0, errorPathPrefix: '/apis/' };

export async function setSimFaults(faults: object): Promise<{ injected: number }> {
  const response = await fetch(`${devStack.csm.url}/_sim/faults`, { method: 'PUT', body: JSON.stringify(faults) });
  if (!response.ok) throw new Error(`PUT /_sim/faults: ${response.status} ${await response.text()}`);
  return (await fetch(`${devStack.csm.url}/_sim/faults`).then((r) => r.json())) as { injected: number };
}

/** Every token the simulator issued so far stops working; the number of them. */
export async function expireSimTokens(): Promise<number> {
  const response = await fetch(`${devStack.csm.url}/_sim/expire-tokens`, { method: 'POST' });
  return ((await response.json()) as { expired: number }).expired;
}
