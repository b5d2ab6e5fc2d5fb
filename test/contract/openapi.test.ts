// The contract checker itself: it must catch what breaks each spec (OpenAPI 3 for IMS and CFS,
// Swagger 2 for BSS), or the simulator and client tests held to it would pass vacuously.
import { describe, expect, it } from 'vitest';
import { contractFetch, findOperation, validateRequest, validateResponse, type Violation } from './openapi';

const url = (pathname: string) => new URL(`http://csm${pathname}`);
const imageId = '46a2731e-a1d0-4f98-ba92-4f78c756bb12';

describe('contract checker', () => {
  it('maps gateway paths to spec operations, path parameters included', () => {
    expect(findOperation('PATCH', `/apis/ims/v3/images/${imageId}`)).toMatchObject({ template: '/v3/images/{image_id}', params: { image_id: imageId } });
    expect(findOperation('GET', '/apis/cfs/v2/sessions/s1')).toMatchObject({ template: '/v2/sessions/{session_name}' });
    expect(findOperation('PUT', '/apis/bss/boot/v1/bootparameters')).toMatchObject({ template: '/boot/v1/bootparameters' });
    expect(findOperation('PUT', '/apis/ims/v3/images')).toBeUndefined();
  });

  it('accepts what matches each spec', () => {
    expect(validateResponse('GET', url(`/apis/ims/v3/images/${imageId}`), 200, { id: imageId, name: 'compute', created: '2026-01-01T00:00:00Z', arch: 'x86_64', metadata: {} })).toEqual([]);
    expect(validateRequest('POST', url('/apis/cfs/v3/sessions'), { name: 's1', configuration_name: 'c1', target: { definition: 'image', groups: [{ name: 'g', members: [imageId] }] } })).toEqual([]);
    expect(validateRequest('PATCH', url('/apis/bss/boot/v1/bootparameters'), { hosts: ['x1'], params: 'quiet' })).toEqual([]);
    expect(validateResponse('GET', url('/apis/bss/boot/v1/bootparameters'), 200, [{ hosts: ['x1'], kernel: 'k', initrd: 'i', params: 'p' }])).toEqual([]);
  });

  it('catches responses that break the spec: wrong types, missing required fields, undocumented status', () => {
    expect(validateResponse('GET', url(`/apis/ims/v3/images/${imageId}`), 200, { id: imageId, arch: 'sparc' })).toEqual(
      expect.arrayContaining([expect.stringContaining("required property 'name'"), expect.stringContaining('arch')]),
    );
    expect(validateResponse('GET', url('/apis/cfs/v3/sessions/s1'), 200, { name: 's1', status: { session: { status: 'stuck' } } })).toEqual([expect.stringContaining('status/session/status')]);
    expect(validateResponse('POST', url('/apis/cfs/v2/sessions'), 201, {})).toEqual([expect.stringContaining('status 201 is not a documented response')]);
    expect(validateResponse('GET', url('/apis/bss/boot/v1/bootparameters'), 200, [{ hosts: 'x1', kernel: 5 }])).toHaveLength(2);
    expect(validateResponse('GET', url(`/apis/ims/v3/images/${imageId}`), 404, { status: 'Not Found' })).toEqual([expect.stringContaining('status: must be integer')]);
  });

  it('catches requests that break the spec: body, path and query parameters', () => {
    expect(validateRequest('POST', url('/apis/ims/v3/images'), { arch: 'sparc' })).toHaveLength(2);
    expect(validateRequest('PATCH', url('/apis/ims/v3/images/not-a-uuid'), { arch: 'x86_64' })).toEqual([expect.stringContaining('image_id')]);
    expect(validateRequest('POST', url('/apis/cfs/v3/sessions'), { name: 's1' })).toEqual([expect.stringContaining('configuration_name')]);
    expect(validateRequest('PUT', url('/apis/bss/boot/v1/bootparameters'), { hosts: 'x1' })).toEqual([expect.stringContaining('hosts: must be array')]);
    expect(validateRequest('GET', url('/apis/bss/boot/v1/bootscript?nid=abc'), undefined)).toEqual([expect.stringContaining('nid')]);
    expect(validateRequest('DELETE', url('/apis/bss/boot/v1/nowhere'), undefined)).toEqual([expect.stringContaining('no operation')]);
  });

  it('records the violations of the traffic through its fetch, and passes the response on unchanged', async () => {
    const violations: Violation[] = [];
    const canned: typeof fetch = async () => new Response(JSON.stringify({ id: imageId }), { status: 200, headers: { 'content-type': 'application/json' } });
    const checked = contractFetch(violations, canned);
    const response = await checked(`http://csm/apis/ims/v3/images/${imageId}`, { method: 'GET' });
    expect(await response.json()).toEqual({ id: imageId });
    expect(violations).toEqual([{ method: 'GET', path: `/apis/ims/v3/images/${imageId}`, status: 200, problems: [expect.stringContaining("required property 'name'")] }]);
    await checked(new Request('http://csm/apis/cfs/v3/sessions/s1', { method: 'DELETE' }));
    expect(violations[1]).toMatchObject({ method: 'DELETE', problems: [expect.stringContaining('status 200 is not a documented response')] });
  });
});
