import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A webhook receiver on loopback: records every request and answers with the next scripted status
 * (200 once the script is used up). A status of 0 leaves the request unanswered and destroys the socket.
 */
export async function startReceiver(): Promise<{ url: string; received: Received[]; answers: number[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const answers: number[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = answers.shift() ?? 200;
      if (status === 0) return void req.socket.destroy();
      res.writeHead(status, status >= 300 && status < 400 ? { location: 'http://elsewhere.test/' } : { 'content-type': 'text/plain' });
      res.end(status < 300 ? 'thanks' : `no thanks (${status})`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://hooks.test:${port}/gazette`,
    received,
    answers,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
