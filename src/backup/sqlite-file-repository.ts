import SqliteDatabase from 'better-sqlite3';

/**
 * The statements backup and restore run on SQLite files directly, each on a connection of its own
 * (better-sqlite3, not the app's Kysely handle): the copy must come from one read transaction, and a
 * restore must see whether any other connection, in any process, has the database open.
 */

/** What a backup holds, read in the same transaction as the copy: the state it restores to. */
export interface BackupManifest {
  /** Migrations applied, oldest first: the last one is the schema version. */
  migrations: string[];
  subscribers: number;
  /** Post deliveries by status. */
  deliveries: Record<string, number>;
}

type Connection = SqliteDatabase.Database;

function readManifest(db: Connection): BackupManifest {
  const migrations = (db.prepare('select name from kysely_migration order by name').all() as Array<{ name: string }>).map((r) => r.name);
  const { n } = db.prepare('select count(*) as n from subscribers').get() as { n: number };
  const rows = db.prepare('select status, count(*) as n from deliveries group by status order by status').all() as Array<{ status: string; n: number }>;
  return { migrations, subscribers: n, deliveries: Object.fromEntries(rows.map((r) => [r.status, r.n])) };
}

/**
 * Copies the live database `source` into `dest` with SQLite's online backup API while the server goes on
 * writing. The copy runs inside one read transaction, so it is one consistent snapshot that never restarts
 * however busy the writers are (WAL: readers and writers do not block each other), and the manifest is read
 * from that same snapshot.
 */
export async function copyLiveDatabase(source: string, dest: string): Promise<BackupManifest> {
  const db = new SqliteDatabase(source, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    db.exec('begin');
    const manifest = readManifest(db);
    // Large steps: this runs on a thread of its own, and every step is a chance for nothing but overhead.
    await db.backup(dest, { progress: () => 4096 });
    db.exec('commit');
    return manifest;
  } finally {
    db.close();
  }
}

export type FileCheck = { ok: true; manifest: BackupManifest } | { ok: false; problem: string };

/**
 * Whether `file` is a sound Gazette database: SQLite, passes integrity_check, has Gazette's migration
 * table. `selfContained` first folds any write-ahead log into the file and leaves it in rollback-journal
 * mode, so the file alone is the whole database (a backup travels without a -wal file).
 */
export function checkDatabaseFile(file: string, options: { selfContained?: boolean } = {}): FileCheck {
  let db: Connection;
  try {
    db = new SqliteDatabase(file, { readonly: !options.selfContained, fileMustExist: true });
  } catch (err) {
    return { ok: false, problem: `cannot open it (${(err as Error).message})` };
  }
  try {
    if (options.selfContained) db.pragma('journal_mode = DELETE');
    const integrity = db.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') return { ok: false, problem: `it is damaged (integrity_check: ${String(integrity).slice(0, 200)})` };
    const hasMigrations = db.prepare("select 1 from sqlite_master where type = 'table' and name = 'kysely_migration'").get();
    if (!hasMigrations) return { ok: false, problem: 'it is a SQLite database, but not a Gazette one (no migration table)' };
    return { ok: true, manifest: readManifest(db) };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'SQLITE_NOTADB') return { ok: false, problem: 'it is not a SQLite database' };
    if (code === 'SQLITE_CORRUPT') return { ok: false, problem: 'it is damaged (SQLite reports corruption)' };
    if (code === 'SQLITE_ERROR') return { ok: false, problem: `it is not a Gazette database (${(err as Error).message})` };
    throw err;
  } finally {
    db.close();
  }
}

/**
 * Takes the database `file` for a restore: false when any other connection has it open (a running
 * server holds its connections for its whole life, and the operating system drops a dead process's
 * locks, so this never trips on a stale lock file). When true, the write-ahead log has been folded into
 * the file and removed, so the file can be moved aside whole.
 */
export function takeForRestore(file: string): boolean {
  const db = new SqliteDatabase(file, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('locking_mode = EXCLUSIVE');
    try {
      db.exec('begin exclusive');
      db.exec('commit');
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_BUSY' || (err as { code?: string }).code === 'SQLITE_LOCKED') return false;
      throw err;
    }
    db.pragma('journal_mode = DELETE');
    return true;
  } finally {
    db.close();
  }
}
