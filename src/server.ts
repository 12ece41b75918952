import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { createMailer, openDatabase, readEnvironment, resolveSecret } from './boot.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { MigrationError } from './db/migrate.js';
import { systemClock } from './lib/clock.js';

/** The only entry point: config → database → migrations → app → listen; graceful shutdown on signals. */
async function main(): Promise<void> {
  const config: Config = loadConfig(readEnvironment());
  const say = (msg: string) => process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), msg })}\n`);
  const warn = (msg: string) => process.stdout.write(`${JSON.stringify({ level: 40, time: Date.now(), msg })}\n`);

  const secretKey = resolveSecret(config, warn);
  const database = await openDatabase(config, say);
  const mailer = createMailer(config, database.db, systemClock);
  if (mailer.kind === 'dev-outbox') warn('No SMTP relay configured (SMTP_URL): mail is kept in the dev outbox, not delivered.');

  const app = await buildApp({
    config,
    db: database.db,
    dialect: database.dialect,
    pingDb: database.ping,
    mailer,
    clock: systemClock,
    secretKey,
    logger: { level: config.logLevel },
  });
  app.addHook('onClose', async () => {
    await mailer.close();
    await database.close();
  });

  closeWithGrace({ delay: 30_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an uncaught error');
    else app.log.info({ signal }, 'shutting down');
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
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof MigrationError) {
    process.stderr.write(`${err.message}\n`);
  } else {
    process.stderr.write(`Gazette failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  }
  process.exit(1);
});
