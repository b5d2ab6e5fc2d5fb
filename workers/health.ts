// GET /healthz for the probes of a container platform: 200 while every worker of this process is
// running (polling its queue), 503 otherwise, the body naming each worker's state.
import http from 'node:http';
import type { Worker } from '@temporalio/worker';

export function serveHealth(settings: { WORKER_HEALTH_PORT?: number; WORKER_HEALTH_HOST: string }, workers: Worker[]): void {
  if (!settings.WORKER_HEALTH_PORT) return;
  const server = http.createServer((request, response) => {
    if (request.url !== '/healthz') return void response.writeHead(404).end();
    const states = workers.map((worker) => worker.getState());
    response.writeHead(states.every((state) => state === 'RUNNING') ? 200 : 503, { 'content-type': 'text/plain' }).end(`${states.join(' ')}\n`);
  });
  server.listen(settings.WORKER_HEALTH_PORT, settings.WORKER_HEALTH_HOST);
  server.unref();
}
