import type { Config } from '../config.js';
import type { Db } from '../db/database.js';
import { executedMigrationNames, knownMigrationNames } from '../db/migrate.js';
import { backupSqlite } from './sqlite-backup.js';

/**
 * A backup of a SQLite database as it was before a new release migrates it: an upgrade that goes wrong is
 * undone by restoring that file under the previous image. Taken only when migrations are pending on a
 * database that has run some already (a fresh install has nothing to keep), and labelled so that the
 * retention rule never removes it. A backup that fails is reported, and the migration goes on: refusing
 * to start would turn a full backup disk into an outage.
 */
export async function backupBeforeMigrating(db: Db, config: Config, log: (msg: string) => void, now = Date.now()): Promise<string | undefined> {
  if (config.database.kind !== 'sqlite' || config.database.file === ':memory:') return undefined;
  const executed = await executedMigrationNames(db, undefined);
  if (executed.length === 0) return undefined;
  const pending = (await knownMigrationNames()).filter((name) => !executed.includes(name));
  if (pending.length === 0) return undefined;
  try {
    const r = await backupSqlite({ databaseFile: config.database.file, dir: config.backup.dir, now, retention: config.backup.retention, label: 'pre-migrate' });
    log(`backed up the database before ${pending.length} new migration(s): ${r.file}`);
    return r.file;
  } catch (err) {
    log(`could not back the database up before migrating (${(err as Error).message}); migrating anyway`);
    return undefined;
  }
}
