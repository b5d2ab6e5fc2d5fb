// The CSM simulator: IMS, CFS and BSS behind gateway paths, a Keycloak-like token endpoint, and
// /_sim/ admin endpoints (fault injection; not part of any CSM API, not authenticated).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createS3Client, type S3Settings } from '../activities/s3/client';
import { TokenIssuer } from './auth';
import { Bss } from './bss';
import { Cfs } from './cfs';
import { Faults } from './faults';
import { HttpProblem, parseJsonBody, problem, problemReply, readBody, route, send, type Route } from './http';
import { Ims } from './ims';
import { SimS3 } from './s3';
import { StateFile } from './store';

/** The settings sim/main.ts reads (the simulator as the dev stack and docker-compose.yml run it). */
export const simulatorSettingGroups = ['simulator', 'csm', 's3'] as const;

export interface SimulatorOptions {
  port: number;
  host?: string;
  dataDir: string;
  s3: S3Settings;
  clients: Record<string, string>;
  tokenLifetimeSeconds?: number;
}

export interface Simulator {
  url: string;
  faults: Faults;
  tokens: TokenIssuer;
  close(): Promise<void>;
}

export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const store = new StateFile(options.dataDir);
  const s3 = new SimS3(createS3Client(options.s3));
  const faults = new Faults();
  const tokens = new TokenIssuer({ clients: options.clients, tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 300 });
  /** API requests served or refused, by `METHOD path`, since the start: what a benchmark counts calls with. */
  const requests: Record<string, number> = {};
  const ims = new Ims(store, s3);
  const cfs = new Cfs(store, ims, s3, faults);
  const publicRoutes: Route[] = [
    ...tokens.routes(),
    route('GET', '/_sim/faults', () => ({ status: 200, body: { ...faults.settings, injected: faults.injected } })),
    route('PUT', '/_sim/faults', ({ body }) => {
      try {
        return { status: 200, body: faults.update(body) };
      } catch (error) {
        throw problem(400, 'Bad Request', (error as Error).message);
      }
    }),
    route('POST', '/_sim/expire-tokens', () => ({ status: 200, body: { expired: tokens.expireAll() } })),
    route('GET', '/_sim/requests', () => ({ status: 200, body: requests })),
  ];
  const apiRoutes: Route[] = [...ims.routes(), ...cfs.routes(), ...new Bss(store).routes()];

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://sim');
    try {
      const rawBody = await readBody(req);
      const match = (routes: Route[]) =>
        routes
          .map((r) => ({ r, m: r.method === req.method ? r.pattern.exec(url.pathname) : null }))
          .find(({ m }) => m);
      const publicMatch = match(publicRoutes);
      const apiMatch = publicMatch ? undefined : match(apiRoutes);
      const found = publicMatch ?? apiMatch;
      if (!found) {
        const known = [...publicRoutes, ...apiRoutes].some((r) => r.pattern.test(url.pathname));
        throw known ? problem(405, 'Method Not Allowed', `${req.method} is not allowed on ${url.pathname}`) : problem(404, 'Not Found', `${url.pathname} is not a known path`);
      }
      if (apiMatch) {
        const counted = `${req.method} ${url.pathname}`;
        requests[counted] = (requests[counted] ?? 0) + 1;
        if (faults.settings.latencyMs) await new Promise((resolve) => setTimeout(resolve, faults.settings.latencyMs));
        const injected = faults.errorFor(url.pathname);
        if (injected) throw problem(injected, injected === 503 ? 'Service Unavailable' : 'Internal Server Error', 'injected by the simulator');
        tokens.authorize({ method: req.method!, path: url.pathname, query: url.searchParams, params: {}, headers: req.headers, body: undefined, rawBody });
      }
      const isForm = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
      send(
        res,
        await found.r.handler({
          method: req.method!,
          path: url.pathname,
          query: url.searchParams,
          params: { ...found.m!.groups },
          headers: req.headers,
          body: isForm ? undefined : parseJsonBody(rawBody),
          rawBody,
        }),
      );
    } catch (error) {
      if (error instanceof HttpProblem) send(res, problemReply(error));
      else send(res, problemReply(problem(500, 'Internal Server Error', (error as Error).message)));
    }
  });
  await new Promise<void>((resolve) => server.listen(options.port, options.host ?? '127.0.0.1', resolve));
  cfs.start();
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    faults,
    tokens,
    close: () =>
      new Promise((resolve) => {
        cfs.stop();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
