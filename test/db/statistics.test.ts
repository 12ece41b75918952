import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sql } from 'kysely';
import { refreshStatistics } from '../../src/db/statistics.js';
import { createTestDb } from '../helpers/db.js';
import { makeNewsletter } from '../sending/fixtures.js';

// Postgres only: SQLite plans without gathered statistics.
const enabled = Boolean(process.env.TEST_DATABASE_URL);
const skip = !enabled && 'TEST_DATABASE_URL is not set';

async function addSubscribers(db: Parameters<typeof refreshStatistics>[0], from: number, to: number) {
  await sql`insert into subscribers (email, email_hash, token, created_at, updated_at)
            select 'p' || i || '@example.com', md5(i::text), 't' || i, 0, 0 from generate_series(${from}::int, ${to}::int) i`.execute(db);
}

/** What the planner believes the table holds (pg_class.reltuples: -1 until the first ANALYZE). */
async function plannedRows(db: Parameters<typeof refreshStatistics>[0], table: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`select reltuples::float8 as n from pg_class where relname = ${table} and relnamespace = current_schema()::regnamespace`.execute(db);
  return Number(rows[0]!.n);
}

test('analyzes only the tables whose statistics are stale: never analyzed, or grown since', { skip }, async () => {
  const t = await createTestDb('postgres');
  after(() => t.drop());
  const nl = await makeNewsletter(t.db, 0);
  await addSubscribers(t.db, 1, 5_000);
  await sql`insert into subscriptions (subscriber_id, newsletter_id, status, source, created_at, updated_at)
            select id, ${nl.id}, 'active', 'import', 0, 0 from subscribers`.execute(t.db);
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
