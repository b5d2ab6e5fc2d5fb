// An in-process simulator on a free port with its own state directory, over the dev stack's real
// S3, and CSM clients whose every exchange is checked against the official specs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { devStack } from '../../dev/config';
import { CsmClient } from '../../activities/csm/client';
import { startSimulator, type Simulator } from '../../sim/server';
import { contractFetch, type Violation } from '../contract/openapi';

export const testClient = { id: 'sim-test', secret: 'sim-test-secret' };

export interface Harness {
  sim: Simulator;
  dataDir: string;
  violations: Violation[];
  csm: CsmClient;
  /** Raw HTTP to the simulator, for what the typed clients do not send (bad bodies, no token). */
  raw(method: string, pathname: string, body?: unknown, token?: string): Promise<{ status: number; body: unknown }>;
  token(): Promise<string>;
  restart(): Promise<void>;
  close(): Promise<void>;
  /** Fails the test when an exchange broke the spec; clears the record for the next test. */
  expectNoViolations(): void;
}

export async function startHarness(options: { tokenLifetimeSeconds?: number } = {}): Promise<Harness> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'csm-sim-'));
  const start = () => startSimulator({ port: 0, dataDir, s3: devStack.s3, clients: { [testClient.id]: testClient.secret }, tokenLifetimeSeconds: options.tokenLifetimeSeconds });
  const violations: Violation[] = [];
  const harness: Harness = {
    sim: await start(),
    dataDir,
    violations,
    csm: undefined as unknown as CsmClient,
    async token() {
      const response = await fetch(`${harness.sim.url}/keycloak/realms/shasta/protocol/openid-connect/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: testClient.id, client_secret: testClient.secret }),
      });
      return ((await response.json()) as { access_token: string }).access_token;
    },
    async raw(method, pathname, body, token) {
      const bearer = token ?? (await harness.token());
      const response = await contractFetch(violations)(`${harness.sim.url}${pathname}`, {
        method,
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? (() => { try { return JSON.parse(text); } catch { return text; } })() : undefined };
    },
    async restart() {
      await harness.sim.close();
      harness.sim = await start();
      harness.csm = client();
    },
    close: () => harness.sim.close(),
    expectNoViolations() {
      const seen = violations.splice(0);
      expect(seen).toEqual([]);
    },
  };
  const client = () => new CsmClient({ url: harness.sim.url, clientId: testClient.id, clientSecret: testClient.secret }, contractFetch(violations));
  harness.csm = client();
  return harness;
}
