import { ceilingMessage, physicalCeiling, type CeilingResult } from './ceilings.js';
import { createPost, prepareDb, type BenchDb } from './databases.js';
import { measuredRoundTrip, nodemailerPool, sequentialClient } from './far-clients.js';
import { forkListening, startSink, type SinkProcess } from './procs.js';
import type { SinkStats } from './sink-server.js';
import { runSendWorker, type SendWorkerReport } from './send-process.js';

/**
 * The far and the throttling relay (issue 33): Gazette, nodemailer's pooled sendMail() and a sequential
 * client (the listmonk stand-in) through a delay line (bench/delay-line.ts) into the sink; and Gazette
 * against a sink with a quota, with and without SEND_RATE. Every Gazette send must reach each recipient
 * exactly once, and none may fail, or the run fails.
 */

export interface FarPoint {
  rttMs: number;
  connections: number;
  recipients: number;
  /** Gazette from the first message at the sink to the last: the round trips, as every baseline is taken. */
  gazette: number;
  /** Gazette from the send command to the last message at the sink: the steady rate plus the start-up. */
  gazetteWhole: number;
  /** From the send command to the first message at the sink (snapshot, sessions opened). */
  firstMessageMs: number;
  /** One message per round trip per connection: connections ÷ RTT. */
  limit: number;
  /** The line's round trip measured right after the sends (NOOPs through it, mean), beside the RTT `limit` assumes. */
  measuredRttMs: number;
  /**
   * A raw pipelined writer (bench/lib/ceilings.ts) through the same line right after: one round trip a
   * message with no database and no rendering, what this machine's timers and load let any sender reach.
   */
  pipelined: number;
  nodemailer: number;
  sequential: number;
  /**
   * How many messages each baseline sent: fewer than Gazette's, because the sequential client at RTT 100 ms
   * would take 17 minutes for 20,000; each is a steady rate, so the count changes the time, not the figure.
   */
  baselineMessages: { nodemailer: number; sequential: number; pipelined: number };
}

export interface ThrottleRun {
  quota: number;
  code: number;
  rttMs: number;
  connections: number;
  sendRate: number | null;
  recipients: number;
  rate: number;
  /** The rate answers the relay gave (each is a message tried again later). */
  throttled: number;
  failed: number;
  /** Seconds from the first message until every later full second took ≥ 90% of the quota (null: never). */
  at90Seconds: number | null;
  /** The lowest full second from then on, as a share of the quota. */
  heldMinPercent: number | null;
}

type Log = (line: string) => void;

/** A delay line (bench/delay-line.ts) in its own process in front of `targetPort`. */
async function startDelayLineProcess(targetPort: number, rttMs: number): Promise<{ port: number; stop(): void }> {
  const { child, port } = await forkListening('delay-line', [String(targetPort), String(rttMs)]);
  return { port, stop: () => child.kill() };
}

/** Databases of `n` subscribers, one per size asked for. */
function databases() {
  const made = new Map<number, Promise<BenchDb>>();
  return {
    get: (n: number) => made.get(n) ?? (made.set(n, prepareDb('sqlite', n)), made.get(n)!),
    async close() {
      for (const db of made.values()) await (await db).close();
    },
  };
}

/** One Gazette send of a new post to all of `bench`'s subscribers; checks the sink got each exactly once. */
async function gazetteSend(label: string, bench: BenchDb, n: number, sink: SinkProcess, smtpPort: number, env: Record<string, string>) {
  const postId = await createPost(bench.db, bench.newsletterId);
  await sink.reset();
  const report: SendWorkerReport = await runSendWorker(bench.url, `smtp://127.0.0.1:${smtpPort}`, postId, env);
  const stats = await sink.stats();
  const failed = (report.counts.failed ?? 0) + (report.counts.unknown ?? 0);
  if (stats.distinct !== n || stats.duplicates !== 0 || stats.messages !== n || failed > 0 || report.status !== 'sent') {
    throw new Error(`${label}: the sink saw ${stats.messages} messages to ${stats.distinct} distinct recipients with ${stats.duplicates} duplicates; expected exactly ${n} once each, none failed (post ${report.status}, engine counts: ${JSON.stringify(report.counts)})`);
  }
  return { rate: Math.round(n / ((stats.lastAt! - report.startedAt) / 1000)), steady: steadyRate(stats), stats, report, messageBytes: Math.round(stats.bytes / stats.messages) };
}

/** Messages a second from the first message at the sink to the last: the round trips, not the start-up. */
function steadyRate(stats: SinkStats): number {
  return Math.round((stats.messages - 1) / ((stats.lastAt! - stats.firstAt!) / 1000));
}

/** A baseline client's messages into a reset sink; its steady rate as the sink saw it. */
async function baseline(sink: SinkProcess, run: () => Promise<CeilingResult>): Promise<{ rate: number; messages: number }> {
  await sink.reset();
  const r = await run();
  const stats = await sink.stats();
  if (stats.messages !== r.messages || stats.distinct !== r.messages) throw new Error(`a baseline client's messages did not all arrive once: ${JSON.stringify(stats)}`);
  return { rate: steadyRate(stats), messages: r.messages };
}

/** A point of the curve: Gazette sends to `recipients`; each baseline client sends its own count. */
export interface FarPlan {
  rttMs: number;
  recipients: number;
  baseline: { nodemailer: number; sequential: number; pipelined: number };
}

export async function farRelay(o: { points: FarPlan[]; connections: number; log: Log }): Promise<FarPoint[]> {
  const sink = await startSink();
  const dbs = databases();
  const out: FarPoint[] = [];
  try {
    for (const p of o.points) {
      const line = await startDelayLineProcess(sink.port, p.rttMs);
      try {
        const bench = await dbs.get(p.recipients);
        const g = await gazetteSend(`far relay, RTT ${p.rttMs} ms`, bench, p.recipients, sink, line.port, { SMTP_POOL_SIZE: String(o.connections) });
        const message = ceilingMessage(g.messageBytes);
        const nm = await baseline(sink, () => nodemailerPool(line.port, message, p.baseline.nodemailer, o.connections, `nodemailer-${p.rttMs}`));
        const seq = await baseline(sink, () => sequentialClient(line.port, message, p.baseline.sequential, o.connections, `sequential-${p.rttMs}`));
        const raw = await baseline(sink, () => physicalCeiling(line.port, message, p.baseline.pipelined, o.connections));
        const limit = Math.round((o.connections * 1000) / p.rttMs);
        const measuredRttMs = Math.round((await measuredRoundTrip(line.port)) * 100) / 100;
        const point: FarPoint = {
          rttMs: p.rttMs,
          connections: o.connections,
          recipients: p.recipients,
          gazette: g.steady,
          gazetteWhole: g.rate,
          firstMessageMs: g.stats.firstAt! - g.report.startedAt,
          limit,
          measuredRttMs,
          pipelined: raw.rate,
          nodemailer: nm.rate,
          sequential: seq.rate,
          baselineMessages: { nodemailer: nm.messages, sequential: seq.messages, pipelined: raw.messages },
        };
        o.log(
          `far relay, RTT ${p.rttMs} ms, ${o.connections} connections: Gazette ${point.gazette} msg/s steady, ${point.gazetteWhole} over the whole send (${p.recipients} recipients, each once; first after ${point.firstMessageMs} ms) = ${pct(point.gazette, limit)} of the one-round-trip limit (${limit}; the line measured ${measuredRttMs} ms) steady, ${pct(point.gazetteWhole, limit)} whole; ${pct(point.gazette, point.pipelined)} of a raw pipelined writer (${point.pipelined}, ${raw.messages} messages); nodemailer pooled sendMail() ${point.nodemailer} (${nm.messages} messages); sequential client ${point.sequential} (${seq.messages} messages; Gazette ${(point.gazette / point.sequential).toFixed(1)}×)`,
        );
        out.push(point);
      } finally {
        line.stop();
      }
    }
  } finally {
    sink.stop();
    await dbs.close();
  }
  return out;
}

export async function throttlingRelay(o: { quota: number; code: 421 | 451 | 454; rttMs: number; connections: number; recipients: number; log: Log }): Promise<ThrottleRun[]> {
  const sink = await startSink(['--quota', String(o.quota), '--code', String(o.code)]);
  const line = await startDelayLineProcess(sink.port, o.rttMs);
  const bench = await prepareDb('sqlite', o.recipients);
  const out: ThrottleRun[] = [];
  try {
    for (const sendRate of [null, o.quota]) {
      const label = `throttling relay (${o.quota}/s), SEND_RATE ${sendRate ?? 'unset'}`;
      const env: Record<string, string> = { SMTP_POOL_SIZE: String(o.connections), ...(sendRate ? { SEND_RATE: String(sendRate) } : {}) };
      const g = await gazetteSend(label, bench, o.recipients, sink, line.port, env);
      const held = heldAt90(g.stats.perSecond, o.quota);
      const run: ThrottleRun = {
        quota: o.quota,
        code: o.code,
        rttMs: o.rttMs,
        connections: o.connections,
        sendRate,
        recipients: o.recipients,
        rate: g.rate,
        throttled: g.stats.throttled,
        failed: (g.report.counts.failed ?? 0) + (g.report.counts.unknown ?? 0),
        at90Seconds: held?.at ?? null,
        heldMinPercent: held?.minPercent ?? null,
      };
      o.log(
        `${label}: ${run.rate} msg/s = ${pct(run.rate, o.quota)} of the quota; ${run.throttled} rate answers (${o.code}), ${run.failed} recipients failed; ≥ 90% of the quota from second ${run.at90Seconds ?? 'never'} on (lowest second after: ${run.heldMinPercent ?? 'n/a'}%)`,
      );
      out.push(run);
    }
  } finally {
    line.stop();
    sink.stop();
    await bench.close();
  }
  return out;
}

/**
 * From which second every later full second took ≥ 90% of the quota, and the lowest of those seconds as a
 * percentage. The last second is partial (the send ended in it) and does not count.
 */
export function heldAt90(perSecond: number[], quota: number): { at: number; minPercent: number } | undefined {
  const full = perSecond.slice(0, -1);
  let at = full.length;
  while (at > 0 && full[at - 1]! >= 0.9 * quota) at -= 1;
  if (at === full.length) return undefined;
  return { at, minPercent: Math.round((100 * Math.min(...full.slice(at))) / quota) };
}

const pct = (rate: number, of: number) => `${Math.round((100 * rate) / of)}%`;
