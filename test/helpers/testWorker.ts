// Runs workers in the test process on task queues of their own, against the dev stack's Temporal.
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { createWorkflowInputActivities } from '../../activities/workflowInput';
import { devStack } from '../../dev/config';
import { connectClient, uniqueId } from './temporal';

Runtime.install({ logger: new DefaultLogger('ERROR') });

interface WorkerSpec {
  taskQueue: string;
  workflowsPath?: string;
  activities: object;
}

// Every workflow resolves its input with a local activity: a test worker's activities include it.
const createWorker = (connection: NativeConnection, spec: WorkerSpec) =>
  Worker.create({ connection, namespace: devStack.temporal.namespace, ...spec, activities: { ...createWorkflowInputActivities(), ...spec.activities }, shutdownGraceTime: '5s' });

export async function withTestWorker<T>(
  options: { workflowsPath: string; activities: object },
  run: (context: { client: Client; taskQueue: string }) => Promise<T>,
): Promise<T> {
  const taskQueue = uniqueId('test');
  const connection = await NativeConnection.connect({ address: devStack.temporal.address });
  const client = await connectClient();
  try {
    const worker = await createWorker(connection, { taskQueue, ...options });
    return await worker.runUntil(run({ client, taskQueue }));
  } finally {
    await client.connection.close();
    await connection.close();
  }
}

/** Workers that run until `stop()`, for suites whose tests share them (a test orchestrator and its agents). */
export async function startTestWorkers(specs: WorkerSpec[]): Promise<{ stop(): Promise<void> }> {
  const connection = await NativeConnection.connect({ address: devStack.temporal.address });
  const workers = await Promise.all(specs.map((spec) => createWorker(connection, spec)));
  const running = workers.map((worker) => worker.run());
  return {
    async stop() {
      for (const worker of workers) worker.shutdown();
      await Promise.all(running);
      await connection.close();
    },
  };
}
