import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sql } from 'kysely';
import { createTestDb } from '../helpers/db.js';

// Postgres only: SQLite keeps its prepared statements by text (statement-cache.test.ts).
const enabled = Boolean(process.env.TEST_DATABASE_URL);

test('a statement marked /* prepared:NAME */ runs as a named prepared statement on Postgres, others do not', { skip: !enabled && 'TEST_DATABASE_URL is not set' }, async () => {
  const t = await createTestDb('postgres', { migrate: false });
  after(() => t.drop());
  // One transaction: one connection, whose prepared statements pg_prepared_statements lists.
  // The send loop's connections (the only ones that plan generically, see pg-connection-setup.test.ts).
  await t.sendDb.transaction().execute(async (trx) => {
    const names = async () =>
      (await sql<{ name: string }>`select name from pg_prepared_statements order by name`.execute(trx)).rows.map((r) => r.name);
    assert.deepEqual(await names(), []);
    for (const n of [1, 2, 3]) {
      const { rows } = await sql<{ doubled: number }>`/* prepared:gz_test_double */ select ${n}::int * 2 as doubled`.execute(trx);
      assert.deepEqual(rows, [{ doubled: n * 2 }]);
    }
    const { rows } = await sql<{ n: number }>`select ${5}::int as n`.execute(trx);
    assert.deepEqual(rows, [{ n: 5 }]);
    // Prepared once, reused for every call; the unmarked query left nothing behind.
    assert.deepEqual(await names(), ['gz_test_double']);
    // Planned once too: a generic plan, never one per call (the columns exist from Postgres 14).
    const mode = await sql<{ plan_cache_mode: string }>`show plan_cache_mode`.execute(trx);
    assert.equal(mode.rows[0]!.plan_cache_mode, 'force_generic_plan');
    const [stats] = (await sql<Record<string, unknown>>`select * from pg_prepared_statements where name = 'gz_test_double'`.execute(trx)).rows;
    if (stats && 'custom_plans' in stats) {
      assert.equal(Number(stats.custom_plans), 0);
      assert.equal(Number(stats.generic_plans), 3);
    }
  });
});
