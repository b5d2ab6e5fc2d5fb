import { Client, Connection } from '@temporalio/client';

export const temporalEnv = {
  address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
  namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
  taskQueue: process.env.IMAGE_TASK_QUEUE ?? 'boot-image',
  uiUrl: process.env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233',
};

export async function connect(): Promise<Client> {
  const connection = await Connection.connect({ address: temporalEnv.address, connectTimeout: 5000 });
  return new Client({ connection, namespace: temporalEnv.namespace });
}

export const workflowUiLink = (workflowId: string) =>
  `${temporalEnv.uiUrl}/namespaces/${encodeURIComponent(temporalEnv.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
