import type { Config } from '../config.js';
import { connectDatabase } from '../db/connect.js';
import type { Db } from '../db/database.js';
import { knownMigrationNames } from '../db/migrate.js';
import { liveLeaseOwners } from '../sending/lease-repository.js';
import { backupSize } from './retention.js';
import { backupPostgres, requirePgTool, restorePostgres } from './postgres-backup.js';
import { currentSchemaName } from './postgres-repository.js';
import { BackupError, backupSqlite, EXIT, restoreSqlite } from './sqlite-backup.js';

/**
 * `gazette backup` and `gazette restore <file>` for either database. Each returns the exit code and
 * says what happened through `say`; refusals are BackupErrors carrying their exit code.
 */

export async function backupCommand(config: Config, options: { dir?: string; now: number }, say: (msg: string) => void): Promise<number> {
  const dir = options.dir ?? config.backup.dir;
  const { retention } = config.backup;
  if (config.database.kind === 'sqlite') {
    const r = await backupSqlite({ databaseFile: config.database.file, dir, now: options.now, retention });
    say(`backup written: ${r.file} (${backupSize(r.bytes)}, ${r.manifest.subscribers} subscribers, schema ${r.manifest.migrations.at(-1)})`);
    for (const old of r.deleted) say(`removed old backup ${old}`);
    return 0;
  }
  requirePgTool('pg_dump');
  const schema = await withPostgres(config, currentSchemaName);
  const r = await backupPostgres({ url: config.database.url, schema, dir, now: options.now, retention });
  say(`backup written: ${r.file} (${backupSize(r.bytes)}, schema "${schema}")`);
  for (const old of r.deleted) say(`removed old backup ${old}`);
  return 0;
}

export async function restoreCommand(config: Config, file: string, now: number, say: (msg: string) => void): Promise<number> {
  const knownMigrations = await knownMigrationNames();
  if (config.database.kind === 'sqlite') {
    const r = await restoreSqlite({ databaseFile: config.database.file, backupFile: file, knownMigrations, now });
    if (r.preRestore) say(`the database it replaced is kept as ${r.preRestore}`);
    say(`restored ${file} into ${config.database.file}: ${r.manifest.subscribers} subscribers, schema ${r.manifest.migrations.at(-1)}`);
    say('start Gazette now; it runs any newer migrations, and a send that was under way goes on by itself');
    return 0;
  }
  requirePgTool('pg_restore');
  // Every running Gazette process holds a sender lease it renews while it runs.
  const running = await withPostgres(config, (db) => liveLeaseOwners(db, 'sender:', now));
  if (running.length > 0) {
    throw new BackupError(`${running.length} Gazette process(es) are using this database (${running.join(', ')}): stop them first, then restore`, EXIT.inUse);
  }
  const r = await restorePostgres({ url: config.database.url, file, knownMigrations });
  say(`restored ${file}: schema ${r.migrations.at(-1)}`);
  return 0;
}

async function withPostgres<T>(config: Config, f: (db: Db) => Promise<T>): Promise<T> {
  const handle = await connectDatabase(config.database, { connectTimeoutMs: config.databaseConnectTimeoutMs });
  try {
    return await f(handle.db);
  } finally {
    await handle.close();
  }
}
