// HTTP client for the CSM services behind the API gateway (IMS, CFS, BSS): a Keycloak token from
// client credentials, refreshed before it expires and once on a 401; RFC 7807 errors kept whole.
import { Agent } from 'undici';
import { readPemSetting } from '../../settings/files';
import { readSettings, type Environment } from '../../settings/load';

export interface CsmSettings {
  url: string;
  clientId: string;
  /** Resolved inside the activity worker only; never passed through a workflow. */
  clientSecret: string;
  tokenPath?: string;
  /** PEM of the CAs trusted for the gateway, instead of the system CAs. */
  caBundle?: Buffer;
}

export function csmSettingsFromEnv(env: Environment = process.env): CsmSettings {
  const { csm } = readSettings(['csm'], env);
  return {
    url: csm.CSM_API_URL,
    clientId: csm.CSM_CLIENT_ID,
    clientSecret: csm.CSM_CLIENT_SECRET,
    caBundle: csm.CSM_CA_BUNDLE ? readPemSetting('CSM_CA_BUNDLE', csm.CSM_CA_BUNDLE) : undefined,
  };
}

/** fetch trusting only the given CAs (Node's fetch is undici's: its dispatcher carries the TLS options). */
const fetchTrusting = (ca: Buffer): typeof fetch => {
  const dispatcher = new Agent({ connect: { ca } });
  return (input, init) => fetch(input, { ...init, dispatcher } as RequestInit);
};

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
}

/** A non-2xx answer (status > 0) or a network failure (status 0). */
export class CsmHttpError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(`${method} ${path}: ${status ? `${status} ${problem.title ?? ''}`.trim() : 'no answer'}${problem.detail ? `: ${problem.detail}` : ''}`);
    this.name = 'CsmHttpError';
  }

  /** 5xx, 408, 429 and network errors may pass; the rest will not. */
  get transient(): boolean {
    return this.status === 0 || this.status >= 500 || this.status === 408 || this.status === 429;
  }
}

const refreshMarginMs = 30_000;

export class CsmClient {
  private token?: { value: string; refreshAt: number };

  constructor(
    private readonly settings: CsmSettings,
    private readonly fetchImpl: typeof fetch = settings.caBundle ? fetchTrusting(settings.caBundle) : fetch,
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response = await this.send(method, path, body);
    if (response.status === 401) {
      this.token = undefined;
      response = await this.send(method, path, body);
    }
    if (!response.ok) throw new CsmHttpError(method, path, response.status, await readProblem(response));
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async send(method: string, path: string, body: unknown): Promise<Response> {
    const token = await this.bearerToken();
    try {
      return await this.fetchImpl(new URL(path, this.settings.url), {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new CsmHttpError(method, path, 0, { detail: (error as Error).message });
    }
  }

  private async bearerToken(): Promise<string> {
    if (this.token && Date.now() < this.token.refreshAt) return this.token.value;
    const path = this.settings.tokenPath ?? '/keycloak/realms/shasta/protocol/openid-connect/token';
    let response: Response;
    try {
      response = await this.fetchImpl(new URL(path, this.settings.url), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: this.settings.clientId,
          client_secret: this.settings.clientSecret,
        }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new CsmHttpError('POST', path, 0, { detail: (error as Error).message });
    }
    if (!response.ok) throw new CsmHttpError('POST', path, response.status, await readProblem(response));
    const grant = (await response.json()) as { access_token: string; expires_in: number };
    const lifetimeMs = grant.expires_in * 1000;
    this.token = { value: grant.access_token, refreshAt: Date.now() + lifetimeMs - Math.min(refreshMarginMs, lifetimeMs / 5) };
    return grant.access_token;
  }
}

async function readProblem(response: Response): Promise<Problem> {
  const text = await response.text().catch(() => '');
  try {
    const parsed = JSON.parse(text) as Problem | { error?: string; error_description?: string };
    if ('error' in parsed && parsed.error) return { title: parsed.error, detail: parsed.error_description };
    return parsed as Problem;
  } catch {
    return { title: response.statusText, detail: text.slice(0, 500) || undefined };
  }
}
