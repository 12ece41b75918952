import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sql } from 'kysely';
import { refreshStatistics } from '../../src/db/statistics.js';
import { createTestDb } from '../helpers/db.js';
import { makeNewsletter } from '../sending/fixtures.js';

// Postgres only: SQLite plans without gathered statistics.
const enabled = Boolean(process.env.TEST_DATABASE_URL);
const skip = !enabled && 'TEST_DATABASE_URL is not set';

type Db = Parameters<typeof refreshStatistics>[0];

/**
 * Runs writes on one connection and makes its backend report their counts before answering: a backend
 * otherwise reports at most once a second, and counts that arrive after an ANALYZE make the table look
 * changed since (pg_stat_force_next_flush, Postgres 15+).
 */
async function reported(db: Db, write: (conn: Db) => Promise<unknown>): Promise<void> {
  await (db as Exclude<Db, { isTransaction: true }>).connection().execute(async (conn) => {
    await write(conn);
    await sql`select pg_stat_force_next_flush()`.execute(conn);
  });
}

async function addSubscribers(db: Db, from: number, to: number) {
  await reported(db, (conn) =>
    sql`insert into subscribers (email, email_hash, token, created_at, updated_at)
        select 'p' || i || '@example.com', md5(i::text), 't' || i, 0, 0 from generate_series(${from}::int, ${to}::int) i`.execute(conn),
  );
}

/** What the planner believes the table holds (pg_class.reltuples: -1 until the first ANALYZE). */
async function plannedRows(db: Db, table: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`select reltuples::float8 as n from pg_class where relname = ${table} and relnamespace = current_schema()::regnamespace`.execute(db);
  return Number(rows[0]!.n);
}

test('analyzes only the tables whose statistics are stale: never analyzed, or grown since', { skip }, async () => {
  const t = await createTestDb('postgres');
  after(() => t.drop());
  const nl = await makeNewsletter(t.db, 0);
  await addSubscribers(t.db, 1, 5_000);
  await reported(t.db, (conn) =>
    sql`insert into subscriptions (subscriber_id, newsletter_id, status, source, created_at, updated_at)
        select id, ${nl.id}, 'active', 'import', 0, 0 from subscribers`.execute(conn),
  );
  const tables = ['subscribers', 'subscriptions', 'suppressions'];

  // Never analyzed: all three (an empty table too, so its first rows are planned from real numbers).
  assert.deepEqual(await refreshStatistics(t.db, tables), tables);
  assert.equal(await plannedRows(t.db, 'subscribers'), 5_000);

  // Nothing changed since: nothing to do.
  assert.deepEqual(await refreshStatistics(t.db, tables), []);

  // A fifth more subscribers (the file grows at once, whatever the change counters say yet): that table only.
  await addSubscribers(t.db, 5_001, 6_000);
  assert.deepEqual(await refreshStatistics(t.db, tables), ['subscribers']);
  assert.equal(await plannedRows(t.db, 'subscribers'), 6_000);

  // A few rows more are within what autovacuum would let pass as well.
  await addSubscribers(t.db, 6_001, 6_010);
  assert.deepEqual(await refreshStatistics(t.db, tables), []);
});
