import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, inflateSync, brotliDecompressSync } from 'node:zlib';

/**
 * A Sentry ingest endpoint on 127.0.0.1: it accepts envelopes at /api/<project>/envelope/ as sentry.io
 * does, decodes them (compressed or not) and keeps every item, so a test reads exactly what left the process.
 */

export interface ReceivedEnvelope {
  url: string;
  headers: IncomingMessage['headers'];
  /** The envelope as received, decompressed: what a grep for leaked data must search. */
  raw: string;
  header: Record<string, unknown>;
  items: Array<{ type: string; payload: Record<string, unknown> }>;
}

export interface FakeSentry {
  dsn: string;
  envelopes: ReceivedEnvelope[];
  /** Error events, from every envelope so far. */
  events(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

function decode(body: Buffer, encoding: string | undefined): string {
  if (encoding === 'gzip') return gunzipSync(body).toString('utf8');
  if (encoding === 'deflate') return inflateSync(body).toString('utf8');
  if (encoding === 'br') return brotliDecompressSync(body).toString('utf8');
  return body.toString('utf8');
}

function parseEnvelope(raw: string): Pick<ReceivedEnvelope, 'header' | 'items'> {
  const lines = raw.split('\n');
  const header = JSON.parse(lines[0]!) as Record<string, unknown>;
  const items: ReceivedEnvelope['items'] = [];
  for (let i = 1; i + 1 < lines.length; i += 2) {
    if (lines[i] === '') break;
    const itemHeader = JSON.parse(lines[i]!) as { type: string };
    items.push({ type: itemHeader.type, payload: JSON.parse(lines[i + 1]!) as Record<string, unknown> });
  }
  return { header, items };
}

export async function startFakeSentry(project = 42): Promise<FakeSentry> {
  const envelopes: ReceivedEnvelope[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.startsWith(`/api/${project}/envelope/`)) {
        res.writeHead(404).end();
        return;
      }
      const raw = decode(Buffer.concat(chunks), req.headers['content-encoding']);
      envelopes.push({ url: req.url, headers: req.headers, raw, ...parseEnvelope(raw) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    dsn: `http://0123456789abcdef0123456789abcdef@127.0.0.1:${port}/${project}`,
    envelopes,
    events: () => envelopes.flatMap((e) => e.items.filter((i) => i.type === 'event').map((i) => i.payload)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
