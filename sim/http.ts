// A small router for the simulator: routes by method and path pattern, JSON bodies, and errors as
// RFC 7807 problem JSON, the way the CSM services answer.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface Request {
  method: string;
  path: string;
  query: URLSearchParams;
  params: Record<string, string>;
  headers: IncomingMessage['headers'];
  body: unknown;
  rawBody: string;
}

export interface Reply {
  status: number;
  body?: unknown;
  contentType?: string;
}

export type Handler = (request: Request) => Promise<Reply> | Reply;

export interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

/** `/v3/images/{image_id}` → a pattern whose named groups are the path parameters. */
export function route(method: string, template: string, handler: Handler): Route {
  const pattern = new RegExp(`^${template.replace(/\{(\w+)\}/g, '(?<$1>[^/]+)')}/?$`);
  return { method, pattern, handler };
}

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

export const problem = (status: number, title: string, detail: string, extra?: Record<string, unknown>) => new HttpProblem(status, title, detail, extra);

export function problemReply(error: HttpProblem): Reply {
  return {
    status: error.status,
    contentType: 'application/problem+json',
    body: { type: 'about:blank', title: error.title, status: error.status, detail: error.detail, ...error.extra },
  };
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function parseJsonBody(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw problem(400, 'Bad Request', 'The request body is not valid JSON');
  }
}

export function send(res: ServerResponse, reply: Reply): void {
  if (reply.body === undefined) {
    res.writeHead(reply.status);
    res.end();
    return;
  }
  const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
  res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'application/json' });
  res.end(text);
}

export function requireObject(body: unknown, what = 'request body'): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw problem(400, 'Bad Request', `No input provided: the ${what} must be a JSON object`);
  return body as Record<string, unknown>;
}
