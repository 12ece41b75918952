/**
 * `tsx bench/cpu-per-request.ts tracking|bounces [requests] [subscribers]`: the server's own CPU time per
 * request over a fixed number of requests (user + system time of its process, from /proc), for the click
 * redirect and the open pixel on the tracking bench's post, or for distinct signed Mailgun bounce calls.
 *
 * On a machine shared with other work, requests per second move by half between two runs of the same code;
 * the CPU the server spends per request moves much less, so it is the figure to compare two versions by:
 * build each in its own copy of the tree (`npm run build`) and run this in each, alternating. Uses dist/ as
 * it is. Defaults: 30,000 requests (10,000 bounce calls), 100,000 subscribers.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { signToken, trackingKey } from '../src/domain/tracking.js';
import { KEY, signedEvent } from './lib/bounces.js';
import { prepareDb, type BenchDb } from './lib/databases.js';
import { cpuSeconds, startServer, type ServerProcess } from './lib/procs.js';
import { SECRET, sentPost } from './lib/tracking.js';

const which = process.argv[2];
if (which !== 'tracking' && which !== 'bounces') throw new Error('usage: tsx bench/cpu-per-request.ts tracking|bounces [requests] [subscribers]');
const requests = Number(process.argv[3] ?? (which === 'tracking' ? 30_000 : 10_000));
const subscribers = Number(process.argv[4] ?? 100_000);

function fire(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => autocannon(options, (err, result) => (err ? reject(err) : resolve(result))));
}

/** Runs the load and prints the server's CPU per request; `settleMs` lets buffered work (the hit recorder) finish. */
async function measure(label: string, server: ServerProcess, options: autocannon.Options, settleMs: number): Promise<void> {
  const pid = server.child.pid!;
  const before = cpuSeconds(pid);
  const result = await fire(options);
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const microseconds = ((cpuSeconds(pid) - before) * 1e6) / requests;
  const statuses = Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => `${s.count ?? 0} × ${code}`).join(', ');
  console.log(
    `${label}: ${requests} requests at ${Math.round(result.requests.average)}/s (${statuses}); server CPU ${Math.round(microseconds)} µs per request; load ${os.loadavg()[0]!.toFixed(1)}`,
  );
}

async function tracking(bench: BenchDb, env: Record<string, string>): Promise<void> {
  const { postId, linkIds } = await sentPost(bench, 2);
  const server = await startServer(env);
  const key = trackingKey(SECRET);
  try {
    // The recorder flushes every second what has waited out the two-second burst window.
    await measure('click redirect', server, { url: `${server.baseUrl}/c/${signToken(key, 'l', linkIds[0]!)}`, connections: 10, amount: requests }, 3_000);
    await measure('open pixel', server, { url: `${server.baseUrl}/o/${signToken(key, 'o', postId)}.gif`, connections: 10, amount: requests }, 3_000);
  } finally {
    await server.stop();
  }
}

async function bounces(env: Record<string, string>): Promise<void> {
  const server = await startServer(env);
  const run = randomBytes(4).toString('hex');
  const bodies = Array.from({ length: requests }, (_, i) => signedEvent(i, run));
  let next = 0;
  try {
    await measure(
      'bounce webhooks',
      server,
      {
        url: `${server.baseUrl}/webhooks/bounces/mailgun`,
        connections: 20,
        amount: requests,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        requests: [{ method: 'POST', setupRequest: (req) => ({ ...req, body: bodies[next++ % requests]! }) }],
      },
      0,
    );
  } finally {
    await server.stop();
  }
}

const bench = await prepareDb('sqlite', subscribers);
try {
  const env = { DATABASE_URL: bench.url, DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'gazette-bench-cpu-')), SECRET_KEY: SECRET, BOUNCE_MAILGUN_SIGNING_KEY: KEY };
  if (which === 'tracking') await tracking(bench, env);
  else await bounces(env);
} finally {
  await bench.close();
}
