import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness';

const url = '/apis/bss/boot/v1/bootparameters';

describe('simulated BSS (held to bss.yaml)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterEach(() => h.expectNoViolations());
  afterAll(() => h.close());

  const entry = (host: string) => h.raw('GET', `${url}?name=${host}`).then((r) => (r.body as object[])[0]);

  it('POST creates an entry and refuses (400) a host that already has one', async () => {
    const body = { hosts: ['x3000c0s1b0n0'], kernel: 's3://boot-images/a/kernel', initrd: 's3://boot-images/a/initrd', params: 'console=ttyS0 root=live:x', 'cloud-init': { 'user-data': { a: 1 } } };
    expect((await h.raw('POST', url, body)).status).toBe(201);
    const again = await h.raw('POST', url, body);
    expect(again.status).toBe(400);
    expect(again.body).toMatchObject({ status: 400, detail: expect.stringContaining('x3000c0s1b0n0') });
  });

  it('PATCH merges, replaces params as one string, keeps cloud-init, and is a 404 for a host with no entry', async () => {
    await h.raw('POST', url, { hosts: ['x3000c0s2b0n0'], kernel: 'k1', initrd: 'i1', params: 'a=1 b=2', 'cloud-init': { 'meta-data': { x: 1 } } });
    expect((await h.raw('PATCH', url, { hosts: ['x3000c0s2b0n0'], params: 'c=3' })).status).toBe(200);
    expect(await entry('x3000c0s2b0n0')).toEqual({ hosts: ['x3000c0s2b0n0'], kernel: 'k1', initrd: 'i1', params: 'c=3', 'cloud-init': { 'meta-data': { x: 1 } } });
    const missing = await h.raw('PATCH', url, { hosts: ['x3000c0s2b0n0', 'x9999c0s9b0n0'], kernel: 'k2' });
    expect(missing.status).toBe(404);
    expect((await entry('x3000c0s2b0n0')) as { kernel: string }).toMatchObject({ kernel: 'k1' });
  });

  it('PUT replaces the whole record: cloud-init not given is wiped', async () => {
    await h.raw('POST', url, { hosts: ['x3000c0s3b0n0'], kernel: 'k1', initrd: 'i1', params: 'a=1', 'cloud-init': { 'user-data': { keep: 'me' } } });
    await h.raw('PUT', url, { hosts: ['x3000c0s3b0n0'], kernel: 'k2', params: 'b=2' });
    expect(await entry('x3000c0s3b0n0')).toEqual({ hosts: ['x3000c0s3b0n0'], kernel: 'k2', initrd: '', params: 'b=2' });
  });

  it('GET by name returns each match and is a 404 when nothing matches', async () => {
    await h.raw('POST', url, { hosts: ['x3000c0s4b0n0', 'x3000c0s4b0n1'], kernel: 'k', initrd: 'i', params: 'p' });
    const both = await h.raw('GET', `${url}?name=x3000c0s4b0n0,x3000c0s4b0n1,x1c0s0b0n9`);
    expect((both.body as { hosts: string[] }[]).map((e) => e.hosts[0])).toEqual(['x3000c0s4b0n0', 'x3000c0s4b0n1']);
    expect((await h.raw('GET', `${url}?name=x1c0s0b0n9`)).status).toBe(404);
  });

  it('renders the boot script from kernel, initrd and params', async () => {
    await h.raw('POST', url, { hosts: ['x3000c0s5b0n0'], kernel: 's3://boot-images/img/kernel', initrd: 's3://boot-images/img/initrd', params: 'root=sbps-s3:s3://boot-images/img/rootfs:abc:sbps:v1 quiet' });
    const script = await fetch(`${h.sim.url}/apis/bss/boot/v1/bootscript?name=x3000c0s5b0n0`, { headers: { authorization: `Bearer ${await h.token()}` } }).then((r) => r.text());
    expect(script).toContain('kernel --name kernel s3://boot-images/img/kernel root=sbps-s3:s3://boot-images/img/rootfs:abc:sbps:v1 quiet');
    expect(script).toContain('initrd --name initrd s3://boot-images/img/initrd');
  });
});
