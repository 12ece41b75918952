import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sql } from 'kysely';
import { createTestDb } from '../helpers/db.js';

// Postgres only. A file of its own: pg warns once per process, so this must be the process's first pool.
const enabled = Boolean(process.env.TEST_DATABASE_URL);

test('a new Postgres connection is set up before its first query, and only the send loop’s plan statements once', { skip: !enabled && 'TEST_DATABASE_URL is not set' }, async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  after(() => process.off('warning', onWarning));
  const t = await createTestDb('postgres', { migrate: false });
  after(() => t.drop());
  // Several at once, so each pool opens new connections for them.
  const modesOf = (db: typeof t.db) =>
    Promise.all([1, 2, 3, 4].map(async () => (await sql<{ plan_cache_mode: string }>`show plan_cache_mode`.execute(db)).rows[0]!.plan_cache_mode));
  // Generic plans on the send loop's connections only: elsewhere Postgres plans with the values given.
  assert.deepEqual(await modesOf(t.sendDb), ['force_generic_plan', 'force_generic_plan', 'force_generic_plan', 'force_generic_plan']);
  assert.deepEqual(await modesOf(t.db), ['auto', 'auto', 'auto', 'auto']);
  await new Promise((r) => setImmediate(r));
  // pg warns (and pg 9 will refuse) when a query is sent while the connection is still running another.
  assert.deepEqual(warnings.filter((w) => /already executing a query/.test(w)), []);
});
