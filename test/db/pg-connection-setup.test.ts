import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sql } from 'kysely';
import { createTestDb } from '../helpers/db.js';

// Postgres only. A file of its own: pg warns once per process, so this must be the process's first pool.
const enabled = Boolean(process.env.TEST_DATABASE_URL);

test('a new Postgres connection is set up before its first query, not alongside it', { skip: !enabled && 'TEST_DATABASE_URL is not set' }, async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  after(() => process.off('warning', onWarning));
  const t = await createTestDb('postgres', { migrate: false });
  after(() => t.drop());
  // Several at once, so the pool opens new connections for them.
  const modes = await Promise.all(
    [1, 2, 3, 4].map(async () => (await sql<{ plan_cache_mode: string }>`show plan_cache_mode`.execute(t.db)).rows[0]!.plan_cache_mode),
  );
  assert.deepEqual(modes, ['force_generic_plan', 'force_generic_plan', 'force_generic_plan', 'force_generic_plan']);
  await new Promise((r) => setImmediate(r));
  // pg warns (and pg 9 will refuse) when a query is sent while the connection is still running another.
  assert.deepEqual(warnings.filter((w) => /already executing a query/.test(w)), []);
});
