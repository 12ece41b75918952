import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { createMailer, openDatabase, readEnvironment, resolveSecret } from './boot.js';
import { ConfigError, configWarnings, loadConfig, type Config } from './config.js';
import { MigrationError } from './db/migrate.js';
import { createObservability, gazetteVersion } from './features/observability/observability.js';
import { loadSentry, type SentryForwarder } from './features/observability/sentry.js';
import { postEmailRenderer, warmEmailRenderer } from './features/posts/email.js';
import { withTracking } from './features/tracking/email-tracking.js';
import { withReturnPath } from './features/feedback/mailbox/return-path.js';
import { trackingKey } from './domain/tracking.js';
import { createGazetteJobs } from './jobs/gazette-jobs.js';
import { systemClock } from './lib/clock.js';
import { formatPretty, loggerSettings } from './lib/logging.js';
import { createDevOutbox } from './sending/dev-outbox.js';
import { createSendingEngine } from './sending/engine.js';
import { createMailOutbox } from './sending/mail-outbox.js';
import { closeServer } from './shutdown.js';
import type { EngineLog } from './sending/options.js';

/** The only entry point: config → database → migrations → app → listen; graceful shutdown on signals. */
async function main(): Promise<void> {
  const config: Config = loadConfig(readEnvironment());
  const startLine = (level: number, msg: string) => {
    const line = JSON.stringify({ level, time: Date.now(), msg });
    process.stdout.write(config.logFormat === 'pretty' ? formatPretty(line) : `${line}\n`);
  };
  const say = (msg: string) => startLine(30, msg);
  const warn = (msg: string) => startLine(40, msg);
  for (const warning of configWarnings(config)) warn(warning);

  const secretKey = resolveSecret(config, warn);
  const database = await openDatabase(config, say);
  const sentry = config.sentry ? await startSentry(config.sentry) : undefined;
  // Built once: single mail and the bulk send both keep mail here when no relay is configured.
  const devOutbox = createDevOutbox(database.db, systemClock);
  const mailer = createMailer(config, devOutbox, systemClock);
  if (mailer.kind === 'dev-outbox') warn('No SMTP relay configured (SMTP_URL): mail is kept in the dev outbox, not delivered.');

  // The engine logs through the app's logger, which exists once the app is built.
  const engineLog: EngineLog = {
    info: (obj, msg) => app.log.info(obj, msg),
    warn: (obj, msg) => app.log.warn(obj, msg),
    error: (obj, msg) => app.log.error(obj, msg),
  };
  const observability = createObservability({
    db: database.db,
    dialect: database.dialect,
    clock: systemClock,
    ...(database.poolStats ? { poolStats: database.poolStats } : {}),
    ...(sentry ? { sentry } : {}),
    log: engineLog,
  });
  const sending = createSendingEngine({
    db: database.db,
    sendDb: database.sendDb,
    ...(database.readAside ? { readAside: database.readAside } : {}),
    dialect: database.dialect,
    config,
    clock: systemClock,
    renderer: withReturnPath(withTracking(postEmailRenderer(config.baseUrl), { db: database.db, clock: systemClock, key: trackingKey(secretKey), baseUrl: config.baseUrl }), config.bounceVerp, secretKey),
    devOutbox,
    log: observability.reportingLog(engineLog),
    observer: observability.telemetry.sends,
  });

  const mailOutbox = createMailOutbox({ db: database.db, mailer, clock: systemClock, log: observability.reportingLog(engineLog) });
  const jobs = createGazetteJobs({
    db: database.db,
    dialect: database.dialect,
    clock: systemClock,
    log: engineLog,
    sending,
    mailOutbox,
    backup: { database: config.database, config: config.backup },
    onRunFinished: observability.jobFinished,
  });

  const app = await buildApp({
    config,
    db: database.db,
    dialect: database.dialect,
    pingDb: database.ping,
    mailer,
    devOutbox,
    mailOutbox,
    sending,
    jobs,
    clock: systemClock,
    secretKey,
    observability,
    logger: loggerSettings({ level: config.logLevel, format: config.logFormat }),
  });
  // One hook for all of it, so the database closes last whatever order Fastify runs hooks in (src/shutdown.ts).
  app.addHook('onClose', () => closeServer({ jobs, sending, mailOutbox, mailer, imports: app.imports, hitRecorder: app.hitRecorder, observability, database }));

  closeWithGrace({ delay: 30_000 }, async ({ signal, err }) => {
    // First of all: /readyz answers 503, so a load balancer sends new requests elsewhere while this drains.
    observability.readiness.drain();
    if (err) {
      app.log.error({ err }, 'shutting down after an uncaught error');
      observability.errors.report(err, { source: 'process' });
    } else app.log.info({ signal }, 'shutting down');
    // No new job runs, and the running ones finish; then stop claiming and let in-flight messages finish
    // (their outcomes are recorded) before closing.
    await jobs.stop();
    await sending.stop();
    await app.close();
  });

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' || (err as NodeJS.ErrnoException).code === 'EACCES') {
      await app.close();
      throw new ConfigError([{ variable: 'PORT', message: `cannot listen on ${config.host}:${config.port} (${(err as NodeJS.ErrnoException).code})` }]);
    }
    throw err;
  }
  // Only after listen: scheduled starts and interrupted sends resume once the server is really up. The
  // engine recovers and runs its chores once at start; from then on the jobs' ticks run them.
  sending.start();
  mailOutbox.start();
  jobs.start();
  // Healthy first, then the modules the email renderer loads on first use (see warmEmailRenderer).
  setImmediate(() => warmEmailRenderer().catch((err: unknown) => app.log.warn({ err }, 'could not load the email renderer')));
}

/** Loads the optional Sentry SDK; a DSN without the package installed is a setting to fix, not a crash. */
async function startSentry(sentry: NonNullable<Config['sentry']>): Promise<SentryForwarder> {
  try {
    return await loadSentry({ ...sentry, release: `gazette@${gazetteVersion()}` });
  } catch (err) {
    throw new ConfigError([
      { variable: 'SENTRY_DSN', message: `is set but the Sentry SDK could not be loaded (${(err as Error).message}); install the optional dependency @sentry/node` },
    ]);
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof MigrationError) {
    process.stderr.write(`${err.message}\n`);
  } else {
    process.stderr.write(`Gazette failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  }
  process.exit(1);
});
