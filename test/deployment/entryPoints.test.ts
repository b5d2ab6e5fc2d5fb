// Each worker role started exactly as deployed: the systemd unit's ExecStart and the compose file's
// command, with only the settings they document (no WORKER_IDENTITY, which only the dev stack sets),
// seen polling its task queue under the SDK's own identity (pid@host).
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { devStack, stackEnvironment } from '../../dev/config';
import { agentEnvironment } from '../../dev/services';
import { iscsiServerTaskQueue } from '../../lib/taskQueues';
import { readDockerfile } from '../helpers/dockerfile';
import { connectClient } from '../helpers/temporal';

const compose = parse(fs.readFileSync('docker-compose.yml', 'utf8'), { merge: true });
const execStart = (unit: string) => /^ExecStart=(.*)$/m.exec(fs.readFileSync(path.join('workers/systemd', unit), 'utf8'))![1];
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'entry-points-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** Only what the deployment documents, and PATH to find node: nothing inherited from this test. */
const deployedEnv = (extra: Record<string, string>): Record<string, string> => ({ PATH: process.env.PATH!, ...stackEnvironment(), ...extra });

async function pollers(taskQueue: string, kind: 1 | 2): Promise<string[]> {
  const client = await connectClient();
  try {
    const response = await client.workflowService.describeTaskQueue({ namespace: devStack.temporal.namespace, taskQueue: { name: taskQueue }, taskQueueType: kind });
    return (response.pollers ?? []).map((p) => p.identity ?? '');
  } finally {
    await client.connection.close();
  }
}

/** Starts argv, waits for a pid@host poller of that process tree on the queue, stops it. */
async function startsPolling(argv: string[], env: Record<string, string>, taskQueue: string, kind: 1 | 2, whilePolling?: () => Promise<void>) {
  const child = execa(argv[0], argv.slice(1), { env, extendEnv: false, reject: false, all: true, cleanup: true });
  let output = '';
  let exited = false;
  void child.then(() => (exited = true));
  child.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const mine = (await pollers(taskQueue, kind)).find((identity) => identity.endsWith(`@${os.hostname()}`) && processTree(child.pid!).includes(Number(identity.split('@')[0])));
      if (mine) {
        await whilePolling?.();
        return mine;
      }
      if (exited || Date.now() > deadline) throw new Error(`${argv.join(' ')} did not poll ${taskQueue}:\n${output.slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    // npx and tsx do not pass SIGTERM on: stop every process of the tree, each by its PID.
    for (const pid of processTree(child.pid!).reverse()) signal(pid);
    await child;
  }
}

function signal(pid: number) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

function processTree(root: number): number[] {
  const children = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((pid) => {
    try {
      return Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]) === root;
    } catch {
      return false;
    }
  });
  return [root, ...children.flatMap((pid) => processTree(Number(pid)))];
}

/** A unit's ExecStart as systemd runs it: ${VAR} from the environment, /usr/bin/env finding node on PATH. */
const unitArgv = (unit: string, env: Record<string, string>) =>
  execStart(unit).replace(/\$\{(\w+)\}/g, (_, name: string) => env[name] ?? '').split(/\s+/);

describe('workers start as deployed', () => {
  it('the orchestrator unit polls the workflow queue', async () => {
    const env = deployedEnv({ LUKS_KEY_DIR: path.join(scratch, 'keys'), LUKS_WORK_DIR: path.join(scratch, 'luks') });
    expect(await startsPolling(unitArgv('boot-image-orchestrator.service', env), env, devStack.temporal.taskQueue, 1)).toMatch(/^\d+@/);
  });

  it('the agent unit polls its server queue', async () => {
    const server = devStack.iscsiServers[0];
    const { TGT_CONTROL_PORT, ISCSI_DRIVER } = agentEnvironment(server);
    const health = { WORKER_HEALTH_HOST: `${process.env.DEV_STACK_NET ?? '127.0.0'}.101`, WORKER_HEALTH_PORT: '8080' };
    const env = deployedEnv({ ISCSI_SERVER_NAME: server.name, TGT_CONTROL_PORT, ISCSI_DRIVER, ISCSI_STATE_DIR: path.join(scratch, 'state'), ISCSI_CACHE_DIR: path.join(scratch, 'cache'), ...health });
    const probe = async () => {
      const response = await fetch(`http://${health.WORKER_HEALTH_HOST}:${health.WORKER_HEALTH_PORT}/healthz`);
      expect([response.status, (await response.text()).trim()]).toEqual([200, 'RUNNING']);
    };
    expect(await startsPolling(unitArgv('boot-image-agent.service', env), env, iscsiServerTaskQueue(server.name), 2, probe)).toMatch(/^\d+@/);
  });

  it("the compose file's orchestrator (its image's CMD, ENV and prebuilt workflow bundle) polls the workflow queue", async () => {
    const service = compose.services['worker-orchestrator'];
    expect(service.environment).not.toHaveProperty('WORKER_IDENTITY');
    const image = readDockerfile('Dockerfile').stages.find((stage) => stage.name === service.build.target)!;
    // The image's build step, writing the bundle where this test can read it.
    const bundle = path.join(scratch, 'workflow-bundle.js');
    const bundling = readDockerfile('Dockerfile').stages.find((s) => s.name === 'build')!.instructions.find((i) => i.args.includes('bundleWorkflows'))!;
    const [command, ...args] = bundling.args.replace(image.env.WORKFLOW_BUNDLE, bundle).split(/\s+/);
    await execa(command, args);
    const env = deployedEnv({ ...image.env, WORKFLOW_BUNDLE: bundle, LUKS_KEY_DIR: path.join(scratch, 'keys'), LUKS_WORK_DIR: path.join(scratch, 'luks') });
    expect(await startsPolling(service.command ?? image.cmd!, env, devStack.temporal.taskQueue, 1)).toMatch(/^\d+@/);
  });

  it('a missing or invalid setting stops the worker at once, every one named, no secret shown', async () => {
    const { S3_ENDPOINT: _, ...env } = deployedEnv({ TEMPORAL_ADDRESS: 'no-port', INITIATOR_NODE_CONCURRENCY: 'many' });
    const [command, ...args] = unitArgv('boot-image-orchestrator.service', env);
    const result = await execa(command, args, { env, extendEnv: false, reject: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('S3_ENDPOINT: missing');
    expect(result.stderr).toContain('TEMPORAL_ADDRESS: must be host:port');
    expect(result.stderr).toContain('INITIATOR_NODE_CONCURRENCY:');
    expect(result.stderr).not.toContain(env.S3_SECRET_ACCESS_KEY);
  });
});
