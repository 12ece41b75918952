import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { CompiledQuery, sql } from 'kysely';
import { audiencePageEndQuery } from '../../src/sending/audience-repository.js';
import { createTestDb } from '../helpers/db.js';
import { makeNewsletter } from './fixtures.js';

// Postgres only: a property of its planner once the tables have statistics (SQLite looks each subscriber up).
const enabled = Boolean(process.env.TEST_DATABASE_URL);

test('a snapshot page late in a big audience reads only its own subscribers, not every one before it', { skip: !enabled && 'TEST_DATABASE_URL is not set' }, async () => {
  const t = await createTestDb('postgres');
  after(() => t.drop());
  const n = 20_000;
  const nl = await makeNewsletter(t.db, 0);
  await sql`insert into subscribers (email, email_hash, token, created_at, updated_at)
            select 'p' || i || '@example.com', md5(i::text), 't' || i, 0, 0 from generate_series(1, ${n}) i`.execute(t.db);
  await sql`insert into subscriptions (subscriber_id, newsletter_id, status, source, created_at, updated_at)
            select id, ${nl.id}, 'active', 'import', 0, 0 from subscribers`.execute(t.db);
  await sql`analyze`.execute(t.db);

  const afterId = (await sql<{ id: number }>`select id from subscribers order by id offset ${n * 0.8} limit 1`.execute(t.db)).rows[0]!.id;
  const q = audiencePageEndQuery(t.db, nl.id, { includeTags: [], excludeTags: [] }, afterId, 500).compile();
  const { rows } = await t.db.executeQuery<{ 'QUERY PLAN': unknown }>(CompiledQuery.raw(`explain (analyze, format json) ${q.sql}`, [...q.parameters]));
  // Every scan of the subscribers table in the executed plan, with the rows it actually read.
  const scans: number[] = [];
  const walk = (node: Record<string, unknown>) => {
    if (node['Relation Name'] === 'subscribers') scans.push(Number(node['Actual Rows']) * Number(node['Actual Loops'] ?? 1));
    for (const child of (node.Plans as Array<Record<string, unknown>> | undefined) ?? []) walk(child);
  };
  walk((rows[0]!['QUERY PLAN'] as Array<{ Plan: Record<string, unknown> }>)[0]!.Plan);
  assert.ok(scans.length > 0, 'the plan reads the subscribers table');
  // Unbounded, a merge join walked the subscribers from the first id: 16,500 rows here.
  assert.ok(scans.reduce((a, b) => a + b, 0) <= 1_000, `subscriber rows read for a page of 500: ${scans.join(', ')}`);
});
