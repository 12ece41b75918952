import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Web servers on loopback with a route for every outcome a link check can have. Each request is logged
 * with the address it arrived on, so a test can tell which server a pinned connection reached.
 */

export interface LoggedRequest {
  method: string;
  path: string;
  /** The local address the connection came in on (127.0.0.1, 127.0.0.2, …). */
  localAddress: string;
  userAgent: string;
}

export interface TargetServer {
  url: string;
  port: number;
  requests: LoggedRequest[];
  /** Bytes of the big body written when its connection closed (resolves once it has). */
  bigBodyClosed(): Promise<number>;
  close(): Promise<void>;
}

export const BIG_BODY_BYTES = 10 * 1024 * 1024;

interface Counters {
  big: number;
  bigClosed: Promise<number>;
  onBigClosed: (n: number) => void;
}

function counters(): Counters {
  let onBigClosed: (n: number) => void = () => {};
  const bigClosed = new Promise<number>((resolve) => (onBigClosed = resolve));
  return { big: 0, bigClosed, onBigClosed: (n) => onBigClosed(n) };
}

function handler(log: LoggedRequest[], counters: Counters, otherOrigin: () => string) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    log.push({ method: req.method ?? '', path: url.pathname, localAddress: req.socket.localAddress ?? '', userAgent: String(req.headers['user-agent'] ?? '') });
    const redirect = (status: number, to: string) => res.writeHead(status, { location: to }).end();
    const p = url.pathname;
    const chain = /^\/chain\/(\d+)$/.exec(p);
    const forever = /^\/forever\/(\d+)$/.exec(p);
    if (p === '/ok' || p === '/final') return res.writeHead(200, { 'content-type': 'text/html' }).end('<p>ok</p>');
    if (p === '/no-head') return req.method === 'HEAD' ? res.writeHead(405).end() : res.writeHead(200).end('ok');
    if (p === '/missing') return res.writeHead(404).end('not here');
    if (p === '/gone') return res.writeHead(410).end('gone');
    if (p === '/error') return res.writeHead(503).end('down');
    if (p === '/bot-wall') return res.writeHead(403).end('no robots');
    if (p === '/rate-limited') return res.writeHead(429).end('slow down');
    if (p === '/moved') return redirect(301, '/final');
    if (p === '/temporary') return redirect(302, '/ok');
    if (chain) return Number(chain[1]) <= 1 ? redirect(301, '/final') : redirect(301, `/chain/${Number(chain[1]) - 1}`);
    if (forever) return redirect(302, `/forever/${Number(forever[1]) + 1}`);
    if (p === '/loop-a') return redirect(302, '/loop-b');
    if (p === '/loop-b') return redirect(302, '/loop-a');
    if (p === '/to-other') return redirect(302, `${otherOrigin()}/ok`);
    if (p === '/to-metadata') return redirect(302, 'http://169.254.169.254/latest/meta-data/');
    if (p === '/slow') return; // never answers; the client's deadline ends it
    if (p === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG_BODY_BYTES) });
      const chunk = Buffer.alloc(64 * 1024, 120);
      const write = () => {
        while (counters.big < BIG_BODY_BYTES) {
          counters.big += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', write);
        }
        res.end();
      };
      res.on('error', () => {});
      res.on('close', () => counters.onBigClosed(counters.big));
      return write();
    }
    res.writeHead(404).end();
  };
}

async function listen(server: http.Server, host: string, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

function wrap(server: http.Server, scheme: string, host: string, port: number, log: LoggedRequest[], counters: Counters): TargetServer {
  return {
    url: `${scheme}://${host}:${port}`,
    port,
    requests: log,
    bigBodyClosed: () => counters.bigClosed,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A plain HTTP server on `host` (127.0.0.1 unless said), optionally on a given port. */
export async function startHttpTarget(options: { host?: string; port?: number; otherOrigin?: () => string } = {}): Promise<TargetServer> {
  const log: LoggedRequest[] = [];
  const count = counters();
  const host = options.host ?? '127.0.0.1';
  const server = http.createServer(handler(log, count, options.otherOrigin ?? (() => 'http://127.0.0.2')));
  const port = await listen(server, host, options.port);
  return wrap(server, 'http', host, port, log, count);
}

export interface TestCertificate {
  cert: string;
  key: string;
}

/** A self-signed certificate for `names` (DNS names), made by the system's openssl for this test run. */
export function selfSignedCertificate(names: string[]): TestCertificate {
  const dir = mkdtempSync(path.join(tmpdir(), 'gazette-cert-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    const san = [...names.map((n) => `DNS:${n}`), 'IP:127.0.0.1'].join(',');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${san}`, '-keyout', key, '-out', cert,
    ], { stdio: 'ignore' });
    return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same routes over TLS with `certificate`. */
export async function startHttpsTarget(certificate: TestCertificate, options: { host?: string } = {}): Promise<TargetServer> {
  const log: LoggedRequest[] = [];
  const count = counters();
  const host = options.host ?? '127.0.0.1';
  const server = https.createServer({ cert: certificate.cert, key: certificate.key }, handler(log, count, () => 'http://127.0.0.2'));
  const port = await listen(server, host);
  return wrap(server, 'https', host, port, log, count);
}
