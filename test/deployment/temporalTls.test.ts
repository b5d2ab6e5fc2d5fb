// Workers and imagectl reach Temporal through TLS with the documented settings: a CA of the site's
// own, a client certificate, a server name other than the address, an API key.
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devStack, stackEnvironment } from '../../dev/config';
import { agentEnvironment } from '../../dev/services';
import { iscsiServerTaskQueue } from '../../lib/taskQueues';
import { makeCertificates, startTlsFrontend, type TlsFiles, type TlsFrontend } from '../helpers/tlsFrontend';

const net = process.env.DEV_STACK_NET ?? '127.0.0';
const serverName = 'temporal.site.test';
const apiKey = 'site-api-key-0123456789';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-tls-'));
let files: TlsFiles;
let frontend: TlsFrontend;

beforeAll(async () => {
  files = await makeCertificates(dir, serverName);
  frontend = await startTlsFrontend({ host: `${net}.100`, port: 7443, upstream: devStack.temporal.address, files, apiKey });
});
afterAll(async () => {
  await frontend?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const tlsEnv = () => ({
  TEMPORAL_ADDRESS: frontend.address,
  TEMPORAL_TLS_CA: files.ca,
  TEMPORAL_TLS_CERT: files.clientCert,
  TEMPORAL_TLS_KEY: files.clientKey,
  TEMPORAL_TLS_SERVER_NAME: serverName,
  TEMPORAL_API_KEY: apiKey,
});
const imagectl = (env: Record<string, string>) =>
  execa('tsx', ['cli/imagectl.ts', 'status', 'no-such-workflow-tls', '--json'], { env: { ...stackEnvironment(), ...env }, reject: false });

describe('Temporal over TLS', () => {
  it('imagectl reaches the frontend with a client certificate, the site CA, a server name and an API key', async () => {
    const run = await imagectl(tlsEnv());
    expect(JSON.parse(run.stdout).error).toMatch(/workflow not found/); // the server answered: no such workflow
    expect(frontend.calls.some((call) => call.authorization === `Bearer ${apiKey}`)).toBe(true);
  });

  it('imagectl is refused without the API key, and cannot connect without the client certificate', async () => {
    const { TEMPORAL_API_KEY: _, ...withoutKey } = tlsEnv();
    const before = frontend.calls.length;
    const keyless = await imagectl({ ...withoutKey, TEMPORAL_TLS: 'true' });
    expect(keyless.exitCode).toBe(3);
    const keylessCalls = frontend.calls.slice(before);
    expect(keylessCalls.length).toBeGreaterThan(0); // TLS held; the calls were refused for want of a key
    expect(keylessCalls.every((call) => call.authorization === undefined)).toBe(true);
    const { TEMPORAL_TLS_CERT: __, TEMPORAL_TLS_KEY: ___, ...withoutCert } = tlsEnv();
    const afterKeyless = frontend.calls.length;
    const certless = await imagectl(withoutCert);
    expect(certless.exitCode).toBe(3);
    expect(frontend.calls.length).toBe(afterKeyless); // the handshake itself failed
  });

  it('an agent started with the TLS settings polls its queue through the front end', async () => {
    const server = devStack.iscsiServers[1];
    const taskQueue = iscsiServerTaskQueue(server.name);
    const identity = `tls-agent-${process.pid}`;
    const agent = execa(process.execPath, ['--import', 'tsx', 'workers/main.ts', '--role', 'iscsi-server', '--server', server.name], {
      env: { ...agentEnvironment(server), ISCSI_STATE_DIR: path.join(dir, 'state'), ...tlsEnv(), WORKER_IDENTITY: identity },
      reject: false,
      all: true,
    });
    let exited = false;
    void agent.then(() => (exited = true));
    try {
      const deadline = Date.now() + 60_000;
      while (!frontend.calls.some((call) => call.path.endsWith('/PollActivityTaskQueue'))) {
        if (Date.now() > deadline || exited) throw new Error('the agent did not poll through the TLS front end');
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const connection = await Connection.connect({ address: devStack.temporal.address });
      try {
        const pollers = await connection.workflowService.describeTaskQueue({ namespace: devStack.temporal.namespace, taskQueue: { name: taskQueue }, taskQueueType: 2 });
        expect(pollers.pollers?.map((p) => p.identity)).toContain(identity);
      } finally {
        await connection.close();
      }
    } finally {
      agent.kill('SIGTERM');
      await agent;
    }
  });

  it('imagectl takes all of it from a temporal.toml profile (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE) as the temporal CLI does', async () => {
    const config = path.join(dir, 'temporal.toml');
    fs.writeFileSync(
      config,
      [
        '[profile.default]',
        'address = "127.0.0.1:1"',
        '[profile.site]',
        `address = "${frontend.address}"`,
        `namespace = "${devStack.temporal.namespace}"`,
        `api_key = "${apiKey}"`,
        '[profile.site.tls]',
        `client_cert_path = "${files.clientCert}"`,
        `client_key_path = "${files.clientKey}"`,
        `server_ca_cert_path = "${files.ca}"`,
        `server_name = "${serverName}"`,
        '',
      ].join('\n'),
    );
    const before = frontend.calls.length;
    const run = await imagectl({ TEMPORAL_ADDRESS: undefined as unknown as string, TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'site' });
    expect(JSON.parse(run.stdout).error).toMatch(/workflow not found/);
    expect(frontend.calls.slice(before).some((call) => call.authorization === `Bearer ${apiKey}`)).toBe(true);
    const missing = await imagectl({ TEMPORAL_ADDRESS: undefined as unknown as string, TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'lab' });
    expect(missing.exitCode).toBe(2);
    expect(JSON.parse(missing.stdout).error).toContain(`TEMPORAL_PROFILE: cannot read profile "lab" of ${config}`);
  });

  it('a client certificate without its key is a settings error naming the missing one', async () => {
    const { TEMPORAL_TLS_KEY: _, ...env } = tlsEnv();
    const run = await imagectl(env);
    expect(run.exitCode).toBe(2);
    expect(JSON.parse(run.stdout).error).toContain('TEMPORAL_TLS_KEY: missing');
  });
});

describe('runbooks over TLS, with the settings every process reads', () => {
  let plainFrontend: TlsFrontend;
  beforeAll(async () => {
    plainFrontend = await startTlsFrontend({ host: `${net}.100`, port: 7444, upstream: devStack.temporal.address, files });
  });
  afterAll(() => plainFrontend?.close());

  /** A runbook's import of a file that does not exist, its settings from BOOT_IMAGE_SETTINGS only. */
  const importMissing = (settings: Record<string, string>, cli: 'temporal' | 'tctl') => {
    const settingsFile = path.join(dir, `runbook-${cli}-${Object.keys(settings).length}.env`);
    fs.writeFileSync(settingsFile, Object.entries(settings).map(([name, value]) => `${name}=${value}\n`).join(''));
    return execa('bash', ['runbooks/import-image.sh', `rb-tls-${cli}`, '/nonexistent/rootfs.squashfs'], {
      env: { PATH: process.env.PATH!, HOME: process.env.HOME!, BOOT_IMAGE_SETTINGS: settingsFile, RUNBOOK_CLI: cli, RUNBOOK_POLL_SECONDS: '1' },
      extendEnv: false,
      reject: false,
    });
  };
  const started = (target: TlsFrontend, from: number) => target.calls.slice(from).filter((call) => call.path.endsWith('/StartWorkflowExecution'));

  it('the temporal CLI: client certificate, site CA, server name and API key; the workflow runs and its failure is the exit code', async () => {
    const before = frontend.calls.length;
    const run = await importMissing({ ...tlsEnv(), TEMPORAL_NAMESPACE: devStack.temporal.namespace }, 'temporal');
    expect(run.exitCode, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/workflow failed \(InvalidInput\): .*rootfs\.squashfs/);
    expect(started(frontend, before).map((call) => call.authorization)).toEqual([`Bearer ${apiKey}`]);
  });

  it('tctl: the certificate, CA and server name as its flags; an API key, which tctl cannot send, is refused before anything starts', async () => {
    const { TEMPORAL_API_KEY: _, ...withoutKey } = tlsEnv();
    const before = plainFrontend.calls.length;
    const run = await importMissing({ ...withoutKey, TEMPORAL_ADDRESS: plainFrontend.address, TEMPORAL_NAMESPACE: devStack.temporal.namespace }, 'tctl');
    expect(run.exitCode, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/workflow failed \(InvalidInput\)/);
    expect(started(plainFrontend, before)).toHaveLength(1);

    const keyed = await importMissing({ ...tlsEnv(), TEMPORAL_NAMESPACE: devStack.temporal.namespace }, 'tctl');
    expect(keyed.exitCode).toBe(2);
    expect(keyed.stderr).toContain('tctl cannot send TEMPORAL_API_KEY: run with RUNBOOK_CLI=temporal');
  });

  it('invalid settings stop the runbook with exit code 2, naming each', async () => {
    const run = await importMissing({ TEMPORAL_ADDRESS: 'no-port', TEMPORAL_TLS_CA: 'relative/ca.pem' }, 'temporal');
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/TEMPORAL_ADDRESS: /);
    expect(run.stderr).toMatch(/TEMPORAL_TLS_CA: /);
  });
});
