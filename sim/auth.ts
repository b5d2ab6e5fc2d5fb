// A Keycloak-like token endpoint (client credentials) and the bearer check the other endpoints make.
import { randomBytes } from 'node:crypto';
import { problem, route, type Request, type Route } from './http';

export interface AuthSettings {
  clients: Record<string, string>;
  tokenLifetimeSeconds: number;
}

export class TokenIssuer {
  private readonly tokens = new Map<string, number>();

  constructor(private readonly settings: AuthSettings) {}

  routes(): Route[] {
    return [
      route('POST', '/keycloak/realms/shasta/protocol/openid-connect/token', (request) => {
        const form = new URLSearchParams(request.rawBody);
        if (form.get('grant_type') !== 'client_credentials') {
          return { status: 400, body: { error: 'unsupported_grant_type', error_description: 'only client_credentials is supported' } };
        }
        const id = form.get('client_id') ?? '';
        if (!(id in this.settings.clients) || this.settings.clients[id] !== form.get('client_secret')) {
          return { status: 401, body: { error: 'unauthorized_client', error_description: 'Invalid client or Invalid client credentials' } };
        }
        const token = randomBytes(24).toString('base64url');
        this.tokens.set(token, Date.now() + this.settings.tokenLifetimeSeconds * 1000);
        return { status: 200, body: { access_token: token, token_type: 'Bearer', expires_in: this.settings.tokenLifetimeSeconds, scope: 'profile email' } };
      }),
    ];
  }

  authorize(request: Request): void {
    const token = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    const expiresAt = token ? this.tokens.get(token) : undefined;
    if (!expiresAt || expiresAt < Date.now()) throw problem(401, 'Unauthorized', token ? 'The bearer token has expired' : 'A bearer token is required');
  }

  /** Fault injection: every token issued so far stops working. */
  expireAll(): number {
    const count = this.tokens.size;
    this.tokens.clear();
    return count;
  }
}
