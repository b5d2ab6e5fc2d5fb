// Runs a worker in the test process on a task queue of its own, against the dev stack's Temporal.
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { devStack } from '../../dev/config';
import { connectClient, uniqueId } from './temporal';

Runtime.install({ logger: new DefaultLogger('ERROR') });

export async function withTestWorker<T>(
  options: { workflowsPath: string; activities: object },
  run: (context: { client: Client; taskQueue: string }) => Promise<T>,
): Promise<T> {
  const taskQueue = uniqueId('test');
  const connection = await NativeConnection.connect({ address: devStack.temporal.address });
  const client = await connectClient();
  try {
    const worker = await Worker.create({
      connection,
      namespace: devStack.temporal.namespace,
      taskQueue,
      workflowsPath: options.workflowsPath,
      activities: options.activities,
      shutdownGraceTime: '5s',
    });
    return await worker.runUntil(run({ client, taskQueue }));
  } finally {
    await client.connection.close();
    await connection.close();
  }
}
