import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connectDatabase, type DbHandle } from '../../src/db/connect.js';
import type { Dialect } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';

/**
 * Every database test runs on SQLite, and on Postgres too when TEST_DATABASE_URL is set (CI sets it and
 * fails if the server is unreachable). Each test gets a fresh database: an in-memory SQLite file, or a
 * new Postgres schema dropped afterwards.
 */
export const DIALECTS: Dialect[] = process.env.TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];

export interface TestDb extends DbHandle {
  /** For Postgres: the schema this test owns (so a child process can be pointed at it). */
  schema?: string;
  /** A DATABASE_URL another process can use to reach this same database (not for in-memory SQLite). */
  url?: string;
  drop(): Promise<void>;
}

export async function createTestDb(dialect: Dialect, options: { migrate?: boolean; sqliteFile?: string } = {}): Promise<TestDb> {
  let handle: DbHandle;
  let schema: string | undefined;
  let url: string | undefined;
  if (dialect === 'sqlite') {
    handle = await connectDatabase({ kind: 'sqlite', file: options.sqliteFile ?? ':memory:' });
    if (options.sqliteFile) url = `sqlite:${options.sqliteFile}`;
  } else {
    const base = process.env.TEST_DATABASE_URL;
    if (!base) throw new Error('TEST_DATABASE_URL is not set');
    schema = `t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    handle = await connectDatabase({ kind: 'postgres', url: base }, { searchPath: schema });
    const u = new URL(base);
    u.searchParams.set('options', `-c search_path=${schema}`);
    url = u.toString();
  }
  if (options.migrate !== false) await migrateToLatest(handle.db);
  let dropped = false;
  return {
    ...handle,
    schema,
    url,
    async drop() {
      if (dropped) return;
      dropped = true;
      await handle.close();
      if (schema) {
        const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
        await admin.connect();
        await admin.query(`drop schema ${schema} cascade`);
        await admin.end();
      }
    },
  };
}
