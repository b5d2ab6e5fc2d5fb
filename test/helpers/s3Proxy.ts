// A pass-through HTTP proxy in front of the real S3 server, for tests: it counts the body bytes
// of uploads (to measure what is sent again after a crash) and injects faults on the wire, switched
// at run time: connection resets, 503 SlowDown, slow answers, bodies cut short, no answer at all. The Host header is
// kept, so SigV4 signatures stay valid.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type WireFault =
  /** The connection is dropped before any answer (ECONNRESET at the client). */
  | { kind: 'reset' }
  /** 503 SlowDown, as S3 answers when throttling. */
  | { kind: 'slowDown' }
  /** The request is forwarded only after `delayMs`. */
  | { kind: 'slow'; delayMs: number }
  /** The status and headers (Content-Length included) go out, then half the body, then the connection drops. */
  | { kind: 'truncate' }
  /** The request is taken and never answered, the connection left open. */
  | { kind: 'stall' };

type Matcher = (req: http.IncomingMessage) => boolean;

export interface S3Proxy {
  endpoint: string;
  /** Body bytes of PUT requests (PutObject, UploadPart) forwarded to S3. */
  uploadedBytes(): number;
  /**
   * Give the next `count` requests that match (every one by default, until `clear()`) this fault; or,
   * given a list, the next matching requests one fault each, in turn.
   */
  inject(faults: WireFault | WireFault[], options?: { count?: number; matches?: Matcher }): void;
  /** Answer the next `count` requests that match with 503 SlowDown. */
  failNext(count: number, matches?: Matcher): void;
  /** No more faults. */
  clear(): void;
  failuresInjected(): number;
  /** Make the next `count` HEAD answers report another ETag, as a corrupted store would. */
  misreportEtag(count: number): void;
  close(): Promise<void>;
}

const slowDownBody = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>injected by the test proxy</Message></Error>';

export async function startS3Proxy(target: string, options: { uploadBytesPerSecond?: number; host?: string } = {}): Promise<S3Proxy> {
  const upstream = new URL(target);
  let uploaded = 0;
  let injected = 0;
  let misreports = 0;
  let busyUntil = 0;
  const none = { faults: [] as WireFault[], count: 0, matches: (() => true) as Matcher };
  let pending = none;

  const takeFault = (req: http.IncomingMessage): WireFault | undefined => {
    if (pending.count <= 0 || !pending.matches(req)) return undefined;
    const fault = pending.faults.length > 1 ? pending.faults.shift() : pending.faults[0];
    pending.count--;
    injected++;
    return fault;
  };

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, truncate: boolean) => {
    const upstreamRequest = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      if (req.method === 'HEAD' && answer.statusCode === 200 && misreports > 0) {
        misreports--;
        answer.headers.etag = '"0123456789abcdef0123456789abcdef"';
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      const length = Number(answer.headers['content-length']);
      if (!truncate || !(length > 1)) {
        answer.pipe(res);
        return;
      }
      let sent = 0;
      const cut = Math.floor(length / 2);
      answer.on('data', (chunk: Buffer) => {
        if (sent >= cut) return;
        res.write(chunk.subarray(0, cut - sent));
        sent += Math.min(chunk.length, cut - sent);
        if (sent >= cut) {
          answer.destroy();
          res.destroy();
        }
      });
    });
    upstreamRequest.on('error', () => res.destroy());
    if (req.method !== 'PUT') {
      req.pipe(upstreamRequest);
      return;
    }
    // Upload bodies are forwarded at a shared, limited rate, so a test can stop a worker while
    // parts are still on the wire, as on a real network.
    req.on('data', (chunk: Buffer) => {
      uploaded += chunk.length;
      upstreamRequest.write(chunk);
      const rate = options.uploadBytesPerSecond;
      if (!rate) return;
      req.pause();
      const now = Date.now();
      busyUntil = Math.max(now, busyUntil) + (chunk.length / rate) * 1000;
      setTimeout(() => req.resume(), busyUntil - now);
    });
    req.on('end', () => upstreamRequest.end());
    req.resume(); // a slow answer paused it
  };

  const server = http.createServer((req, res) => {
    const fault = takeFault(req);
    switch (fault?.kind) {
      case 'reset':
        req.socket.resetAndDestroy();
        return;
      case 'slowDown':
        req.resume();
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end(slowDownBody);
        return;
      case 'stall':
        req.resume();
        return;
      case 'slow':
        req.pause();
        setTimeout(() => forward(req, res, false), fault.delayMs);
        return;
      default:
        forward(req, res, fault?.kind === 'truncate');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, options.host ?? '127.0.0.1', resolve));
  const { address, port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${address}:${port}`,
    uploadedBytes: () => uploaded,
    inject(faults, { count = Infinity, matches = () => true } = {}) {
      pending = Array.isArray(faults) ? { faults: [...faults], count: faults.length, matches } : { faults: [faults], count, matches };
    },
    failNext(count, matches = () => true) {
      pending = { faults: [{ kind: 'slowDown' }], count, matches };
    },
    clear() {
      pending = none;
    },
    failuresInjected: () => injected,
    misreportEtag(count) {
      misreports = count;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
