import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompiledQuery, sql } from 'kysely';
import type { Db } from '../../../src/db/database.js';
import { suppressionPageQuery, type SuppressionFilter } from '../../../src/features/feedback/repository.js';
import { createTestDb, DIALECTS } from '../../helpers/db.js';

/**
 * The Suppressions page joins each suppression to the subscriber with its address hash. Over a real
 * subscriber table that must be an index lookup per row shown (subscribers_email_hash, migration 0023),
 * not a pass over every subscriber per page.
 */

const SUBSCRIBERS = 20_000;
const EVERY = 400;

async function seed(db: Db, dialect: 'sqlite' | 'postgres'): Promise<void> {
  // Hashes are any 64 characters here: the number, zero-padded, so suppressions can name some of them.
  if (dialect === 'sqlite') {
    await sql`with recursive n(i) as (select 1 union all select i + 1 from n where i < ${SUBSCRIBERS})
              insert into subscribers (email, email_hash, token, created_at, updated_at)
              select 'p' || i || '@example.com', printf('%064d', i), 't' || i, 0, 0 from n`.execute(db);
    await sql`with recursive n(i) as (select ${EVERY} union all select i + ${EVERY} from n where i < ${SUBSCRIBERS + 10 * EVERY})
              insert into suppressions (email_hash, reason, source, detail, created_at)
              select printf('%064d', i), 'bounced', 'mailgun', '5.1.1', i from n`.execute(db);
  } else {
    await sql`insert into subscribers (email, email_hash, token, created_at, updated_at)
              select 'p' || i || '@example.com', lpad(i::text, 64, '0'), 't' || i, 0, 0 from generate_series(1, ${SUBSCRIBERS}::int) i`.execute(db);
    await sql`insert into suppressions (email_hash, reason, source, detail, created_at)
              select lpad(i::text, 64, '0'), 'bounced', 'mailgun', '5.1.1', i from generate_series(${EVERY}::int, ${SUBSCRIBERS + 10 * EVERY}::int, ${EVERY}::int) i`.execute(db);
  }
  await sql`analyze`.execute(db);
}

/** How the plan reads the subscribers table: the index it uses (null for a pass over the whole table), and the plan. */
async function subscriberAccess(
  db: Db,
  dialect: 'sqlite' | 'postgres',
  filter: SuppressionFilter,
  before: { createdAt: number; hash: string } | null,
): Promise<{ index: string | null; plan: string }> {
  const q = suppressionPageQuery(db, filter, null, before, 51).compile();
  if (dialect === 'sqlite') {
    const { rows } = await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${q.sql}`, [...q.parameters]));
    const line = rows.map((r) => r.detail).find((d) => /\b(SCAN|SEARCH) s\b/.test(d));
    assert.ok(line, `the plan reads the subscribers: ${rows.map((r) => r.detail).join(' | ')}`);
    // An AUTOMATIC index is built from the whole table for this one query: that is the scan to avoid.
    return { index: /USING (COVERING )?INDEX (\w+)/.exec(line)?.[2] ?? null, plan: rows.map((r) => r.detail).join(' | ') };
  }
  const { rows } = await db.executeQuery<{ 'QUERY PLAN': Array<{ Plan: Record<string, unknown> }> }>(CompiledQuery.raw(`explain (format json) ${q.sql}`, [...q.parameters]));
  const scans: Array<Record<string, unknown>> = [];
  const walk = (node: Record<string, unknown>) => {
    if (node['Relation Name'] === 'subscribers') scans.push(node);
    for (const child of (node.Plans as Array<Record<string, unknown>> | undefined) ?? []) walk(child);
  };
  walk(rows[0]!['QUERY PLAN'][0]!.Plan);
  assert.equal(scans.length, 1, `one read of the subscribers: ${JSON.stringify(rows[0]!['QUERY PLAN'])}`);
  return { index: (scans[0]!['Index Name'] as string | undefined) ?? null, plan: JSON.stringify(scans[0]) };
}

for (const dialect of DIALECTS) {
  describe(`the Suppressions page's plan (${dialect})`, () => {
    it('looks each suppression’s subscriber up by the email_hash index, on the first page, a later one and a search', async () => {
      const t = await createTestDb(dialect);
      try {
        await seed(t.db, dialect);
        const all: SuppressionFilter = { q: '', reason: '', source: '' };
        const pages: Array<[SuppressionFilter, { createdAt: number; hash: string } | null]> = [
          [all, null],
          [all, { createdAt: 10 * EVERY, hash: '9'.repeat(64) }],
          [{ q: 'p4', reason: 'bounced', source: 'mailgun' }, null],
        ];
        for (const [filter, before] of pages) {
          const { index, plan } = await subscriberAccess(t.db, dialect, filter, before);
          assert.equal(index, 'subscribers_email_hash', plan);
        }
        // And the page still finds the subscribers behind the suppressions it shows.
        const page = await suppressionPageQuery(t.db, all, null, null, 51).execute();
        assert.equal(page.length, 51);
        assert.equal(page.filter((r) => r.email !== null).length, 41);
        assert.equal(page.find((r) => r.email_hash === '0'.repeat(60) + '4000')?.email, 'p4000@example.com');
      } finally {
        await t.drop();
      }
    });
  });
}
