import type { Client } from '@temporalio/client';
import { attemptRows } from '../../cli/history';

/** The attempt rows imagectl history shows for one workflow (without its children). */
export async function attemptRowsOf(client: Client, workflowId: string) {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return attemptRows(history.events!);
}
