import { Client, Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { devStack } from '../../dev/config';

export async function connectClient(): Promise<Client> {
  const connection = await Connection.connect({ address: devStack.temporal.address });
  return new Client({ connection, namespace: devStack.temporal.namespace });
}

export const uniqueId = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
