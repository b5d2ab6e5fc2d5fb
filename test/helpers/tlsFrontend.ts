// A TLS front end for the dev stack's Temporal, as sites put one before their frontend: mutual TLS
// with certificates from a CA of the test's own, and an API key checked on every call (grpc-status
// 16 otherwise). It forwards each gRPC call to the plaintext frontend, trailers included.
import { execa } from 'execa';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';

export interface TlsFiles {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A CA, a server certificate for `serverName` (a DNS name or an IP address) and a client certificate, all made with openssl. */
export async function makeCertificates(dir: string, serverName: string): Promise<TlsFiles> {
  const file = (name: string) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await execa('openssl', ['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1', '-subj', '/CN=test CA']);
  for (const [name, extension] of [['server', `subjectAltName=${net.isIP(serverName) ? 'IP' : 'DNS'}:${serverName}`], ['client', 'extendedKeyUsage=clientAuth']]) {
    await execa('openssl', ['req', ...ec, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=${name}`]);
    fs.writeFileSync(file(`${name}.ext`), `${extension}\n`);
    await execa('openssl', ['x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '1', '-out', file(`${name}.pem`), '-extfile', file(`${name}.ext`)]);
  }
  return { ca: file('ca.pem'), serverCert: file('server.pem'), serverKey: file('server.key'), clientCert: file('client.pem'), clientKey: file('client.key') };
}

export interface TlsFrontend {
  address: string;
  /** Calls forwarded, and the API keys they carried. */
  calls: { path: string; authorization?: string }[];
  close(): Promise<void>;
}

export async function startTlsFrontend(options: { host: string; port: number; upstream: string; files: TlsFiles; apiKey?: string }): Promise<TlsFrontend> {
  const upstream = http2.connect(`http://${options.upstream}`);
  upstream.on('error', () => undefined);
  const calls: TlsFrontend['calls'] = [];
  const server = http2.createSecureServer({
    key: fs.readFileSync(options.files.serverKey),
    cert: fs.readFileSync(options.files.serverCert),
    ca: fs.readFileSync(options.files.ca),
    requestCert: true,
    rejectUnauthorized: true,
  });
  server.on('stream', (stream, headers) => {
    const authorization = headers.authorization as string | undefined;
    calls.push({ path: String(headers[':path']), authorization });
    stream.on('error', () => undefined);
    if (options.apiKey && authorization !== `Bearer ${options.apiKey}`) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'API key required' }, { endStream: true });
      return;
    }
    const { ':authority': _, ':scheme': __, ...forwarded } = headers;
    const call = upstream.request(forwarded);
    call.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    let trailers: http2.IncomingHttpHeaders | undefined;
    let wantsTrailers = false;
    const sendTrailers = () => trailers && wantsTrailers && stream.sendTrailers(trailers);
    call.on('response', (responseHeaders) => {
      // A trailers-only answer (an error) carries its grpc-status in the headers.
      if (responseHeaders['grpc-status'] !== undefined) return stream.respond(responseHeaders, { endStream: true });
      stream.respond(responseHeaders, { waitForTrailers: true });
      stream.once('wantTrailers', () => ((wantsTrailers = true), sendTrailers()));
    });
    call.on('trailers', (received) => ((trailers = received), sendTrailers()));
    stream.pipe(call);
    call.pipe(stream);
    stream.on('close', () => call.close());
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(options.port, options.host, resolve));
  return {
    address: `${options.host}:${options.port}`,
    calls,
    close: async () => {
      upstream.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** An https front end for a plain-HTTP service (S3, the CSM gateway), as a site's load balancer is: TLS ends here. */
export async function startHttpsFrontend(options: { host: string; port: number; upstream: { host: string; port: number }; files: TlsFiles }): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ key: fs.readFileSync(options.files.serverKey), cert: fs.readFileSync(options.files.serverCert) }, (socket) => {
    const upstream = net.connect(options.upstream.port, options.upstream.host);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  // Clients keep their connections alive: closing ends them rather than waiting for their timeouts.
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(options.port, options.host, resolve));
  return {
    url: `https://${options.host}:${options.port}`,
    close: () => new Promise((resolve) => (server.close(() => resolve()), sockets.forEach((socket) => socket.destroy()))),
  };
}
