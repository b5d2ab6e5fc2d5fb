import type { Client } from '@temporalio/client';
import { attemptRows } from '../../cli/history';

/** The attempt rows imagectl history shows for one workflow (without its children). */
export async function attemptRowsOf(client: Client, workflowId: string) {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return attemptRows(history.events!);
}

/** Every byte string in a history (payload data, failure details), decoded as text. */
export function payloadText(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (Array.isArray(value)) return value.map(payloadText).join('\n');
  if (value && typeof value === 'object') return Object.values(value).map(payloadText).join('\n');
  return typeof value === 'string' ? value : '';
}

/** The key as text, and its bytes (text and decoded) in hex and base64: none may appear in a history. */
export function keyForms(key: Buffer): string[] {
  const raw = Buffer.from(key.toString('utf8'), 'base64url');
  return [key.toString('utf8'), ...[key, raw].flatMap((bytes) => [bytes.toString('hex'), bytes.toString('base64'), bytes.toString('base64url')])];
}
