// Holds traffic to the official OpenAPI documents of IMS, CFS (OpenAPI 3) and BSS (Swagger 2):
// every request a client sends and every response it gets back is validated with
// openapi-request-validator / openapi-response-validator against the operation the gateway path
// maps to. A fetch wrapper records violations, so any client can be run under the contract.
import fs from 'node:fs';
import path from 'node:path';
import OpenAPIRequestValidator from 'openapi-request-validator';
import OpenAPIResponseValidator from 'openapi-response-validator';
import { parse } from 'yaml';

// The official files, copied verbatim (MIT, see specs/README.md).
const specDir = path.resolve(import.meta.dirname, 'specs');

interface Spec {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: object; responses?: Record<string, object> };
  definitions?: object;
  swagger?: string;
}

interface Operation {
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, { $ref?: string; content?: Record<string, { schema: object }>; schema?: object }>;
}

const services: { prefix: string; file: string }[] = [
  { prefix: '/apis/ims', file: 'ims.yaml' },
  { prefix: '/apis/cfs', file: 'cfs.yaml' },
  { prefix: '/apis/bss', file: 'bss.yaml' },
];

const specs = new Map<string, Spec>();
function specFor(file: string): Spec {
  if (!specs.has(file)) specs.set(file, parse(fs.readFileSync(path.join(specDir, file), 'utf8')) as Spec);
  return specs.get(file)!;
}

/** The spec operation a gateway URL and method map to, with its path template. */
export function findOperation(method: string, pathname: string): { spec: Spec; template: string; operation: Operation; params: Record<string, string> } | undefined {
  const service = services.find((s) => pathname.startsWith(`${s.prefix}/`));
  if (!service) return undefined;
  const spec = specFor(service.file);
  const local = pathname.slice(service.prefix.length);
  const candidates = Object.entries(spec.paths)
    .filter(([, item]) => !('$ref' in item))
    .map(([template, item]) => ({ template, item, pattern: new RegExp(`^${template.replace(/\{(\w+)\}/g, '(?<$1>[^/]+)')}/?$`) }))
    .sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0));
  for (const { template, item, pattern } of candidates) {
    const match = pattern.exec(local);
    const operation = item[method.toLowerCase()];
    if (match && operation) return { spec, template, operation: { ...operation, parameters: [...((item.parameters as unknown as unknown[]) ?? []), ...(operation.parameters ?? [])] }, params: { ...match.groups } };
  }
  return undefined;
}

function resolveRef<T>(spec: Spec, value: T): T {
  const ref = (value as { $ref?: string })?.$ref;
  if (!ref?.startsWith('#/')) return value;
  return ref
    .slice(2)
    .split('/')
    .reduce((node: unknown, key) => (node as Record<string, unknown>)[key.replaceAll('~1', '/')], spec) as T;
}

export interface Violation {
  method: string;
  path: string;
  status?: number;
  problems: string[];
}

export function validateRequest(method: string, url: URL, body: unknown): string[] {
  const found = findOperation(method, url.pathname);
  if (!found) return [`no operation ${method} ${url.pathname} in the spec`];
  const { spec, operation, params } = found;
  const parameters = (operation.parameters ?? []).map((p) => resolveRef(spec, p));
  const validator = new OpenAPIRequestValidator({
    parameters: parameters as never,
    requestBody: resolveRef(spec, operation.requestBody) as never,
    componentSchemas: spec.components?.schemas as never,
    schemas: spec.definitions as never,
  });
  const result = validator.validateRequest({
    headers: { 'content-type': 'application/json' },
    body,
    params,
    query: Object.fromEntries(url.searchParams),
  });
  return (result?.errors ?? []).map((e: { path?: string; message: string }) => `request ${e.path ?? ''}: ${e.message}`);
}

export function validateResponse(method: string, url: URL, status: number, body: unknown): string[] {
  const found = findOperation(method, url.pathname);
  if (!found) return [`no operation ${method} ${url.pathname} in the spec`];
  const { spec, operation } = found;
  const responses = Object.fromEntries(Object.entries(operation.responses).map(([code, response]) => [code, resolveRef(spec, response)]));
  if (!responses[String(status)] && !responses.default) return [`status ${status} is not a documented response (documented: ${Object.keys(responses).join(', ')})`];
  const validator = new OpenAPIResponseValidator({
    responses: responses as never,
    components: spec.components as never,
    definitions: spec.definitions as never,
  });
  const result = validator.validateResponse(status, body);
  return (result?.errors ?? []).map((e: { path?: string; message: string }) => `response ${status} ${e.path ?? ''}: ${e.message}`);
}

/** A fetch that checks every CSM API exchange against the specs and records what does not match. */
export function contractFetch(violations: Violation[], inner: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const response = await inner(input, init);
    // 401 comes from the API gateway (Keycloak), which none of the service specs describe.
    if (!url.pathname.startsWith('/apis/') || response.status === 401) return response;
    const requestBody = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    const text = await response.clone().text();
    let responseBody: unknown;
    try {
      responseBody = text ? JSON.parse(text) : undefined;
    } catch {
      responseBody = text;
    }
    const problems = [...validateRequest(method, url, requestBody), ...validateResponse(method, url, response.status, responseBody)];
    if (problems.length) violations.push({ method, path: url.pathname, status: response.status, problems });
    return response;
  };
}
