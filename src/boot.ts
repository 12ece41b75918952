import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { backupBeforeMigrating } from './backup/pre-migrate.js';
import type { Config } from './config.js';
import { connectDatabase, type DbHandle } from './db/connect.js';
import { migrateToLatest } from './db/migrate.js';
import { readOrCreateSecret } from './lib/secret-file.js';
import { devOutboxMailer, type DevOutbox } from './sending/dev-outbox.js';
import type { Mailer } from './sending/mailer.js';
import { createSmtpMailer } from './sending/smtp-mailer.js';
import type { Clock } from './lib/clock.js';

/**
 * Start-up steps shared by the server and the CLI, kept out of server.ts so both read the environment
 * the same way. Only these entry points touch process.env.
 */

/** The process environment, over values from ./.env when that file exists (real variables win). */
export function readEnvironment(cwd = process.cwd()): Record<string, string | undefined> {
  const file = path.join(cwd, '.env');
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  return { ...fromFile, ...process.env };
}

export async function openDatabase(config: Config, log: (msg: string) => void): Promise<DbHandle> {
  const handle = await connectDatabase(config.database, {
    connectTimeoutMs: config.databaseConnectTimeoutMs,
    onRetry: log,
  });
  try {
    await backupBeforeMigrating(handle.db, config, log);
    await migrateToLatest(handle.db, log);
  } catch (err) {
    await handle.close();
    throw err;
  }
  return handle;
}

export function resolveSecret(config: Config, warn: (msg: string) => void): string {
  if (config.secretKey) return config.secretKey;
  const { secret, file, created } = readOrCreateSecret(config.dataDir);
  if (created) {
    warn(
      `SECRET_KEY is not set: generated one and saved it in ${file}. Keep that file with your data, or set ` +
        'SECRET_KEY yourself (every Gazette process sharing a database needs the same key).',
    );
  }
  return secret;
}

export function createMailer(config: Config, devOutbox: DevOutbox, clock: Clock): Mailer {
  return config.smtp ? createSmtpMailer(config.smtp, config.dkim) : devOutboxMailer(devOutbox, clock);
}
