import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import type { BenchDb } from './databases.js';
import { startServer } from './procs.js';

/**
 * Issue 25's figure: a relay posting 1,000 signed bounce webhooks a second for 10 seconds at the real
 * server on loopback (Mailgun's scheme: HMAC-SHA256 of timestamp + token), every tenth call a retry of an
 * earlier one. Every distinct event must be stored exactly once, and nothing answered other than 200.
 */

export interface BounceBenchResult {
  rate: number;
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non200: number;
  errors: number;
  distinctEvents: number;
  stored: number;
}

export const KEY = `key-${randomBytes(16).toString('hex')}`;

export function signedEvent(n: number, run: string): string {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const token = randomBytes(25).toString('hex');
  const signature = createHmac('sha256', KEY).update(timestamp + token).digest('hex');
  const recipient = `bounce-${run}-${n}@bench.example`;
  return JSON.stringify({
    signature: { timestamp, token, signature },
    'event-data': {
      id: `${run}-${n}`,
      event: 'failed',
      severity: 'permanent',
      recipient,
      timestamp: Date.now() / 1000,
      'delivery-status': { code: 550, message: '5.1.1 mailbox unavailable', 'enhanced-code': '5.1.1' },
      message: { headers: { 'message-id': `${run}-${n}@bench.example` } },
    },
  });
}

export async function bounceWebhookBench(bench: BenchDb, o: { rate: number; seconds: number; log: (line: string) => void }): Promise<BounceBenchResult> {
  const run = randomBytes(4).toString('hex');
  const server = await startServer({
    DATABASE_URL: bench.url,
    DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'gazette-bench-bounces-')),
    BOUNCE_MAILGUN_SIGNING_KEY: KEY,
  });
  const bodies: string[] = [];
  let next = 0;
  const latencies: number[] = [];
  let non200 = 0;
  let result: autocannon.Result;
  try {
    result = await new Promise<autocannon.Result>((resolve, reject) => {
      const instance = autocannon(
        {
          url: `${server.baseUrl}/webhooks/bounces/mailgun`,
          connections: 20,
          overallRate: o.rate,
          amount: o.rate * o.seconds,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          requests: [
            {
              method: 'POST',
              setupRequest: (req) => {
                const i = next++;
                // Every tenth call repeats the call ten before it, as a relay retrying a slow answer does.
                const body = i % 10 === 9 && bodies.length >= 10 ? bodies[bodies.length - 10]! : signedEvent(i, run);
                bodies.push(body);
                return { ...req, body };
              },
            },
          ],
        },
        (err, r) => (err ? reject(err) : resolve(r)),
      );
      instance.on('response', (_client, status, _bytes, ms) => {
        latencies.push(ms);
        if (status !== 200) non200 += 1;
      });
    });
  } finally {
    await server.stop();
  }
  const distinctEvents = new Set(bodies.map((b) => (JSON.parse(b) as { 'event-data': { id: string } })['event-data'].id)).size;
  const row = await bench.db
    .selectFrom('feedback_reports')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('source', '=', 'mailgun')
    .where('report_id', 'like', `${run}-%`)
    .executeTakeFirstOrThrow();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] ?? 0);
  const out: BounceBenchResult = {
    rate: o.rate,
    seconds: o.seconds,
    requests: latencies.length,
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    non200,
    errors: result.errors + result.timeouts,
    distinctEvents,
    stored: Number(row.n),
  };
  o.log(
    `bounce webhooks: ${out.requests} signed calls at ${out.requestsPerSecond}/s (asked ${o.rate}/s for ${o.seconds} s), p50 ${out.p50Ms} ms, p99 ${out.p99Ms} ms, non-200 ${out.non200}, errors ${out.errors}; ${out.distinctEvents} distinct events, ${out.stored} stored`,
  );
  return out;
}
