// A pass-through HTTP proxy in front of the real S3 server, for tests: it counts the body bytes
// of uploads (to measure what is sent again after a crash) and can answer chosen requests with a
// 503 instead of forwarding them. The Host header is kept, so SigV4 signatures stay valid.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface S3Proxy {
  endpoint: string;
  /** Body bytes of PUT requests (PutObject, UploadPart) forwarded to S3. */
  uploadedBytes(): number;
  /** Answer the next `count` requests that match with 503 SlowDown. */
  failNext(count: number, matches?: (req: http.IncomingMessage) => boolean): void;
  failuresInjected(): number;
  /** Make the next `count` HEAD answers report another ETag, as a corrupted store would. */
  misreportEtag(count: number): void;
  close(): Promise<void>;
}

export async function startS3Proxy(target: string, options: { uploadBytesPerSecond?: number } = {}): Promise<S3Proxy> {
  const upstream = new URL(target);
  let uploaded = 0;
  let injected = 0;
  let misreports = 0;
  let busyUntil = 0;
  let pending: { count: number; matches: (req: http.IncomingMessage) => boolean } = { count: 0, matches: () => true };

  const server = http.createServer((req, res) => {
    if (pending.count > 0 && pending.matches(req)) {
      pending.count--;
      injected++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>injected by the test proxy</Message></Error>');
      return;
    }
    const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      if (req.method === 'HEAD' && answer.statusCode === 200 && misreports > 0) {
        misreports--;
        answer.headers.etag = '"0123456789abcdef0123456789abcdef"';
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    if (req.method !== 'PUT') {
      req.pipe(forward);
      return;
    }
    // Upload bodies are forwarded at a shared, limited rate, so a test can stop a worker while
    // parts are still on the wire, as on a real network.
    req.on('data', (chunk: Buffer) => {
      uploaded += chunk.length;
      forward.write(chunk);
      const rate = options.uploadBytesPerSecond;
      if (!rate) return;
      req.pause();
      const now = Date.now();
      busyUntil = Math.max(now, busyUntil) + (chunk.length / rate) * 1000;
      setTimeout(() => req.resume(), busyUntil - now);
    });
    req.on('end', () => forward.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    uploadedBytes: () => uploaded,
    failNext(count, matches = () => true) {
      pending = { count, matches };
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
