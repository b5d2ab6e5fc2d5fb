import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ImsClient } from '../../activities/ims/client';
import { CsmHttpError } from '../../activities/csm/client';
import { startHarness, type Harness } from './harness';

describe('simulated gateway: tokens and fault injection', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ tokenLifetimeSeconds: 1 });
  });
  afterEach(() => h.expectNoViolations());
  afterAll(() => h.close());

  it('refuses API calls without a token, or with an expired one (401 problem JSON)', async () => {
    const none = await fetch(`${h.sim.url}/apis/ims/v3/images`);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ status: 401, title: 'Unauthorized' });
    const token = await h.token();
    expect((await h.raw('GET', '/apis/ims/v3/images', undefined, token)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await h.raw('GET', '/apis/ims/v3/images', undefined, token)).status).toBe(401);
  });

  it('lets the client refresh its token before expiry and once on a 401', async () => {
    const ims = new ImsClient(h.csm);
    await ims.listImages();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await ims.listImages();
    h.sim.tokens.expireAll();
    await ims.listImages();
  });

  it('refuses wrong client credentials', async () => {
    const answer = await fetch(`${h.sim.url}/keycloak/realms/shasta/protocol/openid-connect/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'sim-test', client_secret: 'wrong' }),
    });
    expect(answer.status).toBe(401);
  });

  it('answers injected 503s and latency switched at run time, then serves again', async () => {
    const ims = new ImsClient(h.csm);
    await fetch(`${h.sim.url}/_sim/faults`, { method: 'PUT', body: JSON.stringify({ failNext: 2, errorStatus: 503, latencyMs: 150 }) });
    const first = await ims.listImages().catch((e) => e);
    expect(first).toBeInstanceOf(CsmHttpError);
    expect(first.status).toBe(503);
    expect(first.transient).toBe(true);
    await ims.listImages().catch(() => undefined);
    const started = Date.now();
    await ims.listImages();
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    await fetch(`${h.sim.url}/_sim/faults`, { method: 'PUT', body: JSON.stringify({ latencyMs: 0 }) });
    const faults = (await fetch(`${h.sim.url}/_sim/faults`).then((r) => r.json())) as { injected: number };
    expect(faults.injected).toBe(2);
    // The injected 503s stand for the gateway's, on an operation whose spec lists no 503: those two, and nothing else.
    const undocumented503 = expect.objectContaining({ status: 503, problems: [expect.stringContaining('status 503 is not a documented response')] });
    expect(h.violations.splice(0)).toEqual([undocumented503, undocumented503]);
  });
  it('answers a share of requests with the injected status, only under the chosen path prefix', async () => {
    const setFaults = (faults: object) => fetch(`${h.sim.url}/_sim/faults`, { method: 'PUT', body: JSON.stringify(faults) });
    expect((await setFaults({ errorRate: 2 })).status).toBe(400);
    await setFaults({ errorRate: 1, errorStatus: 500, errorPathPrefix: '/apis/bss' });
    try {
      const bss = await h.raw('GET', '/apis/bss/boot/v1/bootparameters');
      expect(bss).toMatchObject({ status: 500, body: { status: 500, title: 'Internal Server Error' } });
      expect((await h.raw('GET', '/apis/ims/v3/images')).status).toBe(200);
    } finally {
      await setFaults({ errorRate: 0, errorPathPrefix: '/apis/' });
    }
    expect((await h.raw('GET', '/apis/bss/boot/v1/bootparameters')).status).toBe(200);
  });

  it('expires every token issued so far through /_sim/expire-tokens', async () => {
    const token = await h.token();
    expect((await h.raw('GET', '/apis/ims/v3/images', undefined, token)).status).toBe(200);
    const answer = (await fetch(`${h.sim.url}/_sim/expire-tokens`, { method: 'POST' }).then((r) => r.json())) as { expired: number };
    expect(answer.expired).toBeGreaterThan(0);
    expect((await h.raw('GET', '/apis/ims/v3/images', undefined, token)).status).toBe(401);
    expect((await h.raw('GET', '/apis/ims/v3/images')).status).toBe(200);
  });

  it('counts API requests by method and path at /_sim/requests (refused ones too), not its own admin calls', async () => {
    const counts = async () => (await fetch(`${h.sim.url}/_sim/requests`).then((r) => r.json())) as Record<string, number>;
    const before = await counts();
    await h.raw('GET', '/apis/bss/boot/v1/bootparameters');
    await h.raw('GET', '/apis/bss/boot/v1/bootparameters');
    await h.raw('PATCH', '/apis/bss/boot/v1/bootparameters', { hosts: ['x9999c0s0b0n0'], params: 'quiet' });
    await fetch(`${h.sim.url}/_sim/faults`);
    const after = await counts();
    const added = (key: string) => (after[key] ?? 0) - (before[key] ?? 0);
    expect(added('GET /apis/bss/boot/v1/bootparameters')).toBe(2);
    expect(added('PATCH /apis/bss/boot/v1/bootparameters')).toBe(1);
    expect(Object.keys(after).filter((key) => key.includes('/_sim/'))).toEqual([]);
  });
});
