import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny load balancer on loopback, standing where nginx or a cloud balancer stands in front of several
 * Gazette processes: round-robin over the backends it is given, one fresh connection per request, and a
 * request whose connection is refused goes to the next backend (nginx's proxy_next_upstream default).
 * Nothing else is retried: a reset or an error status is the client's failure, as it would be in production.
 */
export interface LoadBalancer {
  url: string;
  /** Backends (ports) requests go to; taking one out first is how a rolling upgrade drains it. */
  backends: Set<number>;
  /** Requests no backend could take, or that broke after a backend took them. */
  failures: Array<{ method: string; url: string; error: string }>;
  close(): Promise<void>;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function forward(port: number, req: http.IncomingMessage, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers, connection: 'close', 'content-length': String(body.length) };
    const upstream = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    upstream.on('error', reject);
    upstream.end(body);
  });
}

export async function startLoadBalancer(): Promise<LoadBalancer> {
  const backends = new Set<number>();
  const failures: LoadBalancer['failures'] = [];
  let turn = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      let lastError = 'no backend';
      // Every backend once, in turn: a refused connection means that process is not listening (any more).
      const order = [...backends];
      for (let i = 0; i < order.length; i++) {
        const port = order[(turn + i) % order.length]!;
        try {
          const answer = await forward(port, req, body);
          turn++;
          const { connection: _c, 'transfer-encoding': _t, ...headers } = answer.headers;
          res.writeHead(answer.status, { ...headers, 'content-length': String(answer.body.length) });
          res.end(answer.body);
          return;
        } catch (err) {
          lastError = `${port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
          if ((err as NodeJS.ErrnoException).code !== 'ECONNREFUSED') break;
        }
      }
      failures.push({ method: req.method ?? '', url: req.url ?? '', error: lastError });
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`bad gateway: ${lastError}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    backends,
    failures,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
