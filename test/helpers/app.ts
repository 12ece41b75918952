import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Dialect } from '../../src/db/database.js';
import { postEmailRenderer } from '../../src/features/posts/email.js';
import { withTracking } from '../../src/features/tracking/email-tracking.js';
import { withReturnPath } from '../../src/features/feedback/mailbox/return-path.js';
import { trackingKey } from '../../src/domain/tracking.js';
import { createObservability, type Observability } from '../../src/features/observability/observability.js';
import type { SentryForwarder } from '../../src/features/observability/sentry.js';
import type { OutgoingOptions } from '../../src/features/links/client.js';
import { createGazetteJobs } from '../../src/jobs/gazette-jobs.js';
import type { JobRegistry } from '../../src/jobs/registry.js';
import type { PostContentRenderer } from '../../src/sending/content.js';
import { createDevOutbox, devOutboxMailer, type DevOutbox } from '../../src/sending/dev-outbox.js';
import type { DkimSigner } from '../../src/sending/dkim-pool.js';
import { createSendingEngine, type SendingEngine } from '../../src/sending/engine.js';
import { createMailOutbox, type MailOutbox } from '../../src/sending/mail-outbox.js';
import type { Mailer } from '../../src/sending/mailer.js';
import type { EngineOptions } from '../../src/sending/options.js';
import type { BulkTransport } from '../../src/sending/transport.js';
import type { SnsTrust } from '../../src/features/feedback/webhooks/sns-certificates.js';
import { CapturingMailer } from './capturing-mailer.js';
import { FakeClock } from './clock.js';
import { createTestDb, type TestDb } from './db.js';
import { loopbackResolver } from './outgoing.js';

export const TEST_BASE_URL = 'http://gazette.test';
export const TEST_SECRET = 'test-secret-key-that-is-long-enough-0123456789';

export function testConfig(env: Record<string, string> = {}): Config {
  // No test reaches real DNS: address lookups are on only where a test points them at its own server.
  return loadConfig({ BASE_URL: TEST_BASE_URL, DATA_DIR: '/tmp/gazette-test-unused', LOG_LEVEL: 'silent', EMAIL_DNS_CHECK: 'off', ...env });
}

export interface TestApp {
  app: FastifyInstance;
  db: TestDb;
  clock: FakeClock;
  mailer: CapturingMailer;
  /** The app's one dev outbox: the dev-outbox mailer and the bulk send's default transport store into it. */
  devOutbox: DevOutbox;
  config: Config;
  /** The app's sending engine; tests drive it with `runOnce()` and the FakeClock, never its timers. */
  sending: SendingEngine;
  /**
   * The app's mail outbox. It sends after each commit as in production; the Agent waits for it after every
   * request, so a test reads sent mail right after the request that queued it.
   */
  mailOutbox: MailOutbox;
  /** The app's job registry, never started: tests drive it with `runDue(now)` and `runOnce(name)`. */
  jobs: JobRegistry;
  /** Metrics, error reports and readiness, wired to the engine and the jobs as server.ts wires them. */
  observability: Observability;
  /** A fresh cookie-keeping client for this app. */
  agent(): Agent;
  close(): Promise<void>;
}

export async function buildTestApp(
  dialect: Dialect,
  options: {
    env?: Record<string, string>;
    mailer?: 'capture' | 'dev-outbox' | Mailer;
    /** SQLite in this file instead of in memory (the zero-config default is a file). */
    sqliteFile?: string;
    pingDb?: () => Promise<boolean>;
    /** The sending engine's renderer (default: the real post email). */
    renderer?: PostContentRenderer;
    /** Sending engine overrides: its transport (default from env: SMTP_URL or the dev outbox), DKIM signer, tunables. */
    sending?: { transport?: BulkTransport; signer?: DkimSigner | null; options?: Partial<EngineOptions> };
    /** Awaited between two batches of an import: a test holds an import mid-way here. */
    importBetweenBatches?: () => Promise<unknown>;
    /** Outgoing requests (link checks); by default host names answer from loopbackResolver, never DNS. */
    outgoing?: OutgoingOptions;
    /** Where SNS signing certificates may come from (a test server on loopback instead of Amazon). */
    snsTrust?: SnsTrust;
    /** Errors also go here (a Sentry client pointed at a fake ingest server). */
    sentry?: SentryForwarder;
  } = {},
): Promise<TestApp> {
  const db = await createTestDb(dialect, options.sqliteFile ? { sqliteFile: options.sqliteFile } : {});
  const clock = new FakeClock();
  const config = testConfig(options.env);
  const capture = new CapturingMailer();
  const devOutbox = createDevOutbox(db.db, clock);
  const mailer =
    options.mailer === 'dev-outbox' ? devOutboxMailer(devOutbox, clock) : typeof options.mailer === 'object' ? options.mailer : capture;
  const observability = createObservability({
    db: db.db,
    dialect: db.dialect,
    clock,
    ...(db.poolStats ? { poolStats: db.poolStats } : {}),
    ...(options.sentry ? { sentry: options.sentry } : {}),
  });
  const sending = createSendingEngine({
    db: db.db,
    sendDb: db.sendDb,
    dialect: db.dialect,
    config,
    clock,
    renderer: withReturnPath(options.renderer ?? withTracking(postEmailRenderer(config.baseUrl), { db: db.db, clock, key: trackingKey(TEST_SECRET), baseUrl: config.baseUrl }), config.bounceVerp, TEST_SECRET),
    devOutbox,
    observer: observability.telemetry.sends,
    ...options.sending,
  });
  const mailOutbox = createMailOutbox({ db: db.db, mailer, clock });
  const jobs = createGazetteJobs({
    db: db.db,
    dialect: db.dialect,
    clock,
    sending,
    mailOutbox,
    onRunFinished: observability.jobFinished,
    // The backup job copies a file: only an app on a SQLite file has one.
    ...(options.sqliteFile ? { backup: { database: { kind: 'sqlite' as const, file: options.sqliteFile }, config: config.backup } } : {}),
  });
  const app = await buildApp({
    config,
    db: db.db,
    dialect: db.dialect,
    pingDb: options.pingDb ?? db.ping,
    mailer,
    devOutbox,
    mailOutbox,
    sending,
    jobs,
    clock,
    secretKey: TEST_SECRET,
    observability,
    ...(options.importBetweenBatches ? { importBetweenBatches: options.importBetweenBatches } : {}),
    outgoing: options.outgoing ?? { resolve: loopbackResolver() },
    ...(options.snsTrust ? { snsTrust: options.snsTrust } : {}),
  });
  await app.ready();
  return {
    app,
    db,
    clock,
    mailer: capture,
    devOutbox,
    config,
    sending,
    mailOutbox,
    jobs,
    observability,
    agent: () => new Agent(app, () => mailOutbox.idle()),
    async close() {
      await jobs.stop();
      await sending.stop();
      await mailOutbox.stop();
      await app.close();
      await observability.errors.flush();
      observability.close();
      await db.drop();
    },
  };
}

type Form = Record<string, string | string[]>;

/**
 * Drives the app like a browser would: keeps cookies, sends the same-origin headers a browser sends,
 * and fills in the CSRF token from the last page it saw.
 */
export class Agent {
  readonly cookies = new Map<string, string>();
  csrfToken: string | undefined;

  constructor(
    private readonly app: FastifyInstance,
    /** Awaited after every request: work the request started after its commit (mail) has finished. */
    private readonly settle: () => Promise<void> = async () => {},
  ) {}

  async get(url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    return this.request('GET', url, undefined, headers);
  }

  /** Posts a urlencoded form; `_csrf` is added from the last page unless the form has one. */
  async post(url: string, form: Form = {}, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const body = new URLSearchParams();
    const withToken: Form = this.csrfToken && !('_csrf' in form) ? { _csrf: this.csrfToken, ...form } : form;
    for (const [k, v] of Object.entries(withToken)) for (const item of Array.isArray(v) ? v : [v]) body.append(k, item);
    return this.request('POST', url, body.toString(), {
      'content-type': 'application/x-www-form-urlencoded',
      origin: TEST_BASE_URL,
      'sec-fetch-site': 'same-origin',
      ...headers,
    });
  }

  async request(method: string, url: string, payload?: string | Buffer, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await this.app.inject({
      method: method as 'GET',
      url,
      payload,
      headers: { host: 'gazette.test', ...(cookie ? { cookie } : {}), ...headers },
    });
    await this.settle();
    for (const c of res.cookies as Array<{ name: string; value: string; expires?: Date; maxAge?: number }>) {
      const expired = (c.expires && c.expires.getTime() <= Date.now() && c.value === '') || c.maxAge === 0 || c.value === '';
      if (expired) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    const token = /name="_csrf" value="([^"]+)"/.exec(res.body) ?? /"x-csrf-token": "([^"]+)"/.exec(res.body);
    if (token) this.csrfToken = token[1];
    return res;
  }
}

export const OWNER = { name: 'Olive Owner', email: 'olive@example.com', password: 'a long enough passphrase' };

/** Runs first-run setup through the real form and returns the signed-in agent. */
export async function setupOwner(t: TestApp, owner = OWNER): Promise<Agent> {
  const agent = t.agent();
  const res = await agent.post('/setup', owner);
  if (res.statusCode !== 303) throw new Error(`setup failed: ${res.statusCode} ${res.body.slice(0, 500)}`);
  await agent.get('/admin');
  return agent;
}
