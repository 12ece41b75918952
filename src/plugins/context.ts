import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import type { Observability } from '../features/observability/observability.js';
import type { Db, Dialect } from '../db/database.js';
import type { JobRegistry } from '../jobs/registry.js';
import type { Clock } from '../lib/clock.js';
import type { DevOutbox } from '../sending/dev-outbox.js';
import type { SendingEngine } from '../sending/engine.js';
import type { MailOutbox } from '../sending/mail-outbox.js';
import type { Mailer } from '../sending/mailer.js';

/** What the composition root hands to the app; tests build the same thing with fakes where they want. */
export interface AppContext {
  config: Config;
  db: Db;
  dialect: Dialect;
  /** Whether the database answers; /healthz reports it. */
  pingDb: () => Promise<boolean>;
  mailer: Mailer;
  /** Mail kept instead of delivered while no SMTP relay is configured; both mail paths store into it. */
  devOutbox: DevOutbox;
  /** Single messages queued in transactions and sent after commit (src/sending/mail-outbox.ts). */
  mailOutbox: MailOutbox;
  /** Bulk sending: posts → deliveries → relay (src/sending/engine.ts). */
  sending: SendingEngine;
  /** Recurring jobs on node-cron (src/jobs/registry.ts); started by server.ts after listen. */
  jobs: JobRegistry;
  clock: Clock;
  /** Key for HMAC-derived values (CSRF tokens, subscriber links); never leaves the server. */
  secretKey: string;
  /** Metrics, error reports and readiness (server.ts builds it with Sentry and the pools; else buildApp does). */
  observability?: Observability;
}

declare module 'fastify' {
  interface FastifyInstance {
    ctx: AppContext;
  }
}

export default fp<{ ctx: AppContext }>(
  async (app, opts) => {
    app.decorate('ctx', opts.ctx);
  },
  { name: 'gazette-context', fastify: '5.x' },
);
