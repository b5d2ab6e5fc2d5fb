// A real orchestrator worker (or iSCSI server agent) in a child process, on a task queue of the test's
// own, so a test can kill it mid-activity (SIGKILL) the way a crashed host would, or stop it (SIGSTOP).
import { execa, type ResultPromise } from 'execa';
import { randomUUID } from 'node:crypto';
import { devStack, stackEnvironment } from '../../dev/config';
import { iscsiServerTaskQueue } from '../../lib/taskQueues';
import { connectClient } from './temporal';

export interface WorkerProcess {
  pid: number;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Sends a signal without waiting for an exit (SIGSTOP, SIGCONT). */
  signal(signal: NodeJS.Signals): void;
  /** What the worker wrote to stdout and stderr so far (its log). */
  output(): string;
}

export const startWorkerProcess = (taskQueue: string, env: Record<string, string> = {}): Promise<WorkerProcess> =>
  startProcess(['--role', 'orchestrator', '--task-queue', taskQueue], taskQueue, env);

/** The agent of iSCSI server `server` (its driver, cache and secrets from `env`), polling that server's queue. */
export const startAgentProcess = (server: string, env: Record<string, string>): Promise<WorkerProcess> =>
  startProcess(['--role', 'iscsi-server', '--server', server], iscsiServerTaskQueue(server), env);

async function startProcess(args: string[], taskQueue: string, env: Record<string, string>): Promise<WorkerProcess> {
  const identity = `test-worker-${randomUUID().slice(0, 8)}`;
  // One process (node with tsx as loader, not the tsx wrapper), so SIGKILL reaches the worker itself.
  const child: ResultPromise = execa(process.execPath, ['--import', 'tsx', 'workers/main.ts', ...args], {
    env: { ...stackEnvironment(), ...env, WORKER_IDENTITY: identity },
    reject: false,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let exited = false;
  void child.then(() => (exited = true));
  for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const client = await connectClient();
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const response = await client.workflowService.describeTaskQueue({
        namespace: devStack.temporal.namespace,
        taskQueue: { name: taskQueue },
        taskQueueType: 2,
      });
      if (response.pollers?.some((p) => p.identity === identity)) break;
      if (exited || Date.now() > deadline) throw new Error(`worker process did not start polling ${taskQueue}: ${output.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await client.connection.close();
  }
  return {
    pid: child.pid!,
    output: () => output,
    signal: (signal) => void child.kill(signal),
    async kill(signal = 'SIGTERM') {
      child.kill(signal);
      await child;
    },
  };
}
