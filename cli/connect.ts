import { Client, Connection } from '@temporalio/client';
import { readSettings } from '../settings/load';
import { temporalConnectionOptions } from '../settings/temporalConnection';

/** imagectl's settings, read when a command first needs them (so `--help` works without any). */
export const cliSettings = () => {
  const { temporal, imagectl } = readSettings(['temporal', 'imagectl']);
  return { temporal, namespace: temporal.TEMPORAL_NAMESPACE, taskQueue: temporal.IMAGE_TASK_QUEUE, uiUrl: imagectl.TEMPORAL_UI_URL };
};

export async function connect(): Promise<Client> {
  const settings = cliSettings();
  const connection = await Connection.connect({ ...temporalConnectionOptions(settings.temporal), connectTimeout: 5000 });
  return new Client({ connection, namespace: settings.namespace });
}

export function workflowUiLink(workflowId: string): string {
  const { uiUrl, namespace } = cliSettings();
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
