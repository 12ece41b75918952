import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import type { PoolStats } from '../../db/connect.js';
import type { Db, Dialect } from '../../db/database.js';
import type { FinishedRun } from '../../jobs/registry.js';
import type { Clock } from '../../lib/clock.js';
import { DURATION_BUCKETS, MetricsRegistry, type Counter, type Gauge, type Histogram } from '../../lib/metrics.js';
import type { SendObserver } from '../../sending/observer.js';
import { deliveryCounts, feedbackEventCounts, mailOutboxCounts, openPostCounts, suppressionCounts } from './repository.js';

/**
 * The process's metrics (served on /metrics): counters the request hooks, the send loop and the job
 * registry feed as things happen, and gauges read at scrape time from the database and the process.
 * Metric names follow research/next-wave.md (h); deploy/grafana/gazette.json charts them.
 */

export interface Telemetry {
  readonly registry: MetricsRegistry;
  /** One answered request: its route template (or "unmatched"), method, status and duration. */
  request(route: string, method: string, status: number, seconds: number): void;
  /** Given to the sending engine. */
  readonly sends: SendObserver;
  /** Given to the job registry. */
  jobFinished(run: FinishedRun): void;
  /** One error reported (error-reporter.ts), by where it came from. */
  error(source: string): void;
  /** Reads the scrape-time gauges, then renders every metric. */
  scrape(db: Db): Promise<string>;
  close(): void;
}

export interface TelemetryDeps {
  clock: Clock;
  dialect: Dialect;
  version: string;
  poolStats?: () => PoolStats[];
}

/** The delivery statuses /metrics counts: the queue, the ones in flight, and those waiting on the writer. */
const DELIVERY_STATES = ['queued', 'claimed', 'attempting', 'retry', 'unknown'] as const;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** Messages per second is taken over this window. */
const RATE_WINDOW_S = 60;

interface Families {
  httpRequests: Counter;
  httpDuration: Histogram;
  messages: Counter;
  messagesPerSecond: Gauge;
  deliveries: Gauge;
  posts: Gauge;
  mailOutbox: Gauge;
  feedback: Counter;
  suppressions: Gauge;
  jobRuns: Counter;
  jobDuration: Histogram;
  errors: Counter;
  dbPool: Gauge;
  eventLoopLag: Gauge;
  memory: Gauge;
  uptime: Gauge;
  buildInfo: Gauge;
}

function families(r: MetricsRegistry): Families {
  return {
    buildInfo: r.gauge('gazette_build_info', 'Always 1; the labels say which Gazette this is.'),
    httpRequests: r.counter('gazette_http_requests_total', 'HTTP requests answered, by route template, method and status code.'),
    httpDuration: r.histogram('gazette_http_request_duration_seconds', 'Time to answer an HTTP request, by route template and method.', DURATION_BUCKETS),
    messages: r.counter('gazette_messages_total', 'Post messages handed to the relay, by result (sent, retry, failed, unknown, paused).'),
    messagesPerSecond: r.gauge('gazette_messages_per_second', 'Messages this process sent per second over the last minute.'),
    deliveries: r.gauge('gazette_outbox_messages', 'Post deliveries by state: the queue (queued, claimed, retry), in flight (attempting), and unknown.'),
    posts: r.gauge('gazette_posts', 'Posts by status: scheduled, sending, and paused (by the writer or by relay trouble).'),
    mailOutbox: r.gauge('gazette_mail_outbox_messages', 'Single messages (confirmations, notices) not sent yet, by status.'),
    feedback: r.counter('gazette_feedback_events_total', 'Bounces and complaints recorded in the event log, by kind.'),
    suppressions: r.gauge('gazette_suppressions', 'Suppressed addresses, by reason.'),
    jobRuns: r.counter('gazette_job_runs_total', 'Runs of recurring jobs, by job name and outcome (ok, idle, error).'),
    jobDuration: r.histogram('gazette_job_duration_seconds', 'How long recurring job runs take, by job name.', DURATION_BUCKETS),
    errors: r.counter('gazette_errors_total', 'Errors reported (5xx requests, failed jobs, background work, crashes), by source.'),
    dbPool: r.gauge('gazette_db_pool_connections', 'Postgres connection pools: connections by state (total, idle, waiting, max).'),
    eventLoopLag: r.gauge('gazette_event_loop_lag_seconds', 'Event-loop delay since the previous scrape, by quantile.'),
    memory: r.gauge('gazette_process_memory_bytes', 'Process memory, by kind (rss, heap_used, heap_total, external).'),
    uptime: r.gauge('gazette_process_uptime_seconds', 'Seconds since this process started.'),
  };
}

/** Sent messages per second, from per-second counts of the last minute. */
function createRateWindow(clock: Clock) {
  const slots = new Array<number>(RATE_WINDOW_S).fill(0);
  const stamps = new Array<number>(RATE_WINDOW_S).fill(-1);
  return {
    add(n: number) {
      const second = Math.floor(clock.now() / 1000);
      const i = second % RATE_WINDOW_S;
      if (stamps[i] !== second) {
        stamps[i] = second;
        slots[i] = 0;
      }
      slots[i]! += n;
    },
    perSecond(): number {
      const now = Math.floor(clock.now() / 1000);
      let sum = 0;
      for (let i = 0; i < RATE_WINDOW_S; i++) if (now - stamps[i]! < RATE_WINDOW_S && stamps[i]! <= now) sum += slots[i]!;
      return sum / RATE_WINDOW_S;
    },
  };
}

export function createTelemetry(deps: TelemetryDeps): Telemetry {
  const registry = new MetricsRegistry();
  const f = families(registry);
  f.buildInfo.set({ version: deps.version, db: deps.dialect }, 1);
  // Series that exist from the start, so a rate over them is 0 rather than absent; the send loop counts
  // into them directly, once per message.
  const results = new Map(['sent', 'retry', 'failed', 'unknown', 'paused'].map((result) => [result, f.messages.at({ result })]));
  const resultSeries = (result: string) => results.get(result) ?? results.set(result, f.messages.at({ result })).get(result)!;
  for (const source of ['request', 'job', 'background', 'process']) f.errors.inc({ source }, 0);
  const sentWindow = createRateWindow(deps.clock);
  /** The two series of each route, method and status seen, so a request costs a map lookup and two counts. */
  const requestSeries = new Map<string, { count: { inc(): void }; duration: { observe(value: number): void } }>();
  let lag: ELDHistogram | undefined = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();

  function readProcess(): void {
    const mem = process.memoryUsage();
    f.memory.set({ kind: 'rss' }, mem.rss);
    f.memory.set({ kind: 'heap_used' }, mem.heapUsed);
    f.memory.set({ kind: 'heap_total' }, mem.heapTotal);
    f.memory.set({ kind: 'external' }, mem.external);
    f.uptime.set({}, Math.round(process.uptime()));
    if (lag && lag.count > 0) {
      f.eventLoopLag.set({ quantile: '0.5' }, lag.percentile(50) / 1e9);
      f.eventLoopLag.set({ quantile: '0.99' }, lag.percentile(99) / 1e9);
      f.eventLoopLag.set({ quantile: '1' }, lag.max / 1e9);
      lag.reset();
    }
    f.messagesPerSecond.set({}, sentWindow.perSecond());
    for (const p of deps.poolStats?.() ?? []) {
      f.dbPool.set({ pool: p.pool, state: 'total' }, p.total);
      f.dbPool.set({ pool: p.pool, state: 'idle' }, p.idle);
      f.dbPool.set({ pool: p.pool, state: 'waiting' }, p.waiting);
      f.dbPool.set({ pool: p.pool, state: 'max' }, p.max);
    }
  }

  async function readDatabase(db: Db): Promise<void> {
    const [deliveries, posts, mail, feedback, suppressions] = await Promise.all([
      deliveryCounts(db, DELIVERY_STATES),
      openPostCounts(db),
      mailOutboxCounts(db),
      feedbackEventCounts(db),
      suppressionCounts(db),
    ]);
    for (const state of DELIVERY_STATES) f.deliveries.set({ state }, deliveries.get(state) ?? 0);
    for (const status of ['scheduled', 'sending', 'paused']) f.posts.set({ status }, posts.get(status) ?? 0);
    for (const status of ['queued', 'sending', 'retry', 'failed', 'unknown']) f.mailOutbox.set({ status }, mail.get(status) ?? 0);
    for (const kind of ['bounced', 'complained']) f.feedback.set({ kind }, feedback.get(kind) ?? 0);
    for (const reason of ['bounced', 'complained', 'blocked']) f.suppressions.set({ reason }, suppressions.get(reason) ?? 0);
  }

  return {
    registry,
    request(route, method, status, seconds) {
      const m = METHODS.has(method) ? method : 'OTHER';
      const key = `${m} ${status} ${route}`;
      let series = requestSeries.get(key);
      if (!series) {
        series = { count: f.httpRequests.at({ route, method: m, code: String(status) }), duration: f.httpDuration.at({ route, method: m }) };
        requestSeries.set(key, series);
      }
      series.count.inc();
      series.duration.observe(seconds);
    },
    sends: {
      recorded(outcomes) {
        if (outcomes.length === 0) return;
        let sent = 0;
        for (const { outcome } of outcomes) {
          const result = outcome.kind === 'relay' || outcome.kind === 'post' ? 'paused' : outcome.kind;
          if (result === 'sent') sent += 1;
          resultSeries(result).inc();
        }
        if (sent > 0) sentWindow.add(sent);
      },
    },
    jobFinished(run) {
      f.jobRuns.inc({ name: run.job, outcome: run.status });
      f.jobDuration.observe({ name: run.job }, run.durationMs / 1000);
    },
    error(source) {
      f.errors.inc({ source });
    },
    async scrape(db) {
      readProcess();
      await readDatabase(db);
      return registry.render();
    },
    close() {
      lag?.disable();
      lag = undefined;
    },
  };
}
