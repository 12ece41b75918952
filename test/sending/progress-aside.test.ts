import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { sql, type KyselyPlugin, type QueryId, type RootOperationNode } from 'kysely';
import { connectDatabase } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createSendRates, readProgress } from '../../src/sending/progress.js';
import { makeNewsletter, makePost } from './fixtures.js';

/** Records the statements a Kysely instance really executes (compiling one for elsewhere runs nothing). */
function executedStatements(): { plugin: KyselyPlugin; executed: string[] } {
  const nodes = new Map<QueryId, RootOperationNode>();
  const executed: string[] = [];
  return {
    executed,
    plugin: {
      transformQuery(args) {
        nodes.set(args.queryId, args.node);
        return args.node;
      },
      async transformResult(args) {
        executed.push(JSON.stringify(nodes.get(args.queryId)));
        return args.result;
      },
    },
  };
}

test('on a SQLite file the progress count runs on the checkpoint thread, with the same numbers, and here when it is gone', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gazette-aside-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const handle = await connectDatabase({ kind: 'sqlite', file: path.join(dir, 'db.sqlite') }, { checkpointIntervalMs: 3_600_000 });
  after(() => handle.close());
  await migrateToLatest(handle.db);
  assert.ok(handle.readAside && handle.checkpointer, 'a file database reads aside');

  const now = 1_800_000_000_000;
  const nl = await makeNewsletter(handle.db, 0);
  const postId = await makePost(handle.db, nl.id, 0, { status: 'sending', started_at: now - 120_000 });
  // 600 sent, 300 queued, 100 failed.
  await sql`with recursive n(i) as (select 1 union all select i + 1 from n where i < 1000)
            insert into deliveries (post_id, email, message_id, status, sent_at, updated_at)
            select ${postId}, 'r' || i || '@example.com', '<' || i || '@x>',
                   case when i <= 600 then 'sent' when i <= 900 then 'queued' else 'failed' end,
                   case when i <= 400 then ${now - 90_000} when i <= 600 then ${now - 30_000} end, 0
            from n`.execute(handle.db);

  const spy = executedStatements();
  const db = handle.db.withPlugin(spy.plugin);
  const rates = createSendRates();
  const first = await readProgress(db, postId, now - 10_000, handle.readAside, rates);
  assert.equal(first.ratePerSecond, 0, 'two minutes into the send, one reading cannot tell a rate');
  await sql`update deliveries set status = 'sent', sent_at = ${now} where post_id = ${postId} and id in (select id from deliveries where status = 'queued' limit 200)`.execute(handle.db);
  const aside = await readProgress(db, postId, now, handle.readAside, rates);
  assert.deepEqual([aside.sent, aside.queued, aside.failed, aside.total], [800, 100, 100, 1000]);
  assert.equal(aside.ratePerSecond, 20, '200 more sent in the 10 s between the readings');
  assert.equal(spy.executed.filter((s) => s.includes('"count"')).length, 0, 'no count ran on the main connection');

  // The main thread's own answer is the same.
  const here = await readProgress(handle.db, postId, now);
  assert.deepEqual(here.counts, aside.counts);

  // The worker runs reads only: a write is handed back, and nothing changed.
  assert.equal(await handle.checkpointer.read('delete from deliveries', []), null);
  assert.equal((await readProgress(handle.db, postId, now)).total, 1000);

  // Once the thread is stopped the counts run here.
  await handle.checkpointer.stop();
  const fallback = await readProgress(db, postId, now, handle.readAside);
  assert.deepEqual(fallback.counts, aside.counts);
  assert.equal(spy.executed.filter((s) => s.includes('"count"')).length, 1, 'the count ran here');
});

test('the send rate is the sent count\'s change over about the last minute of readings', () => {
  const rates = createSendRates();
  const t0 = 1_800_000_000_000;
  assert.equal(rates.observe(1, t0, 0), undefined, 'nothing to compare the first reading with');
  assert.equal(rates.observe(1, t0 + 500, 100), undefined, 'under a second apart: no rate yet');
  assert.equal(rates.observe(1, t0 + 10_000, 1000), 100);
  assert.equal(rates.observe(1, t0 + 40_000, 4000), 100, 'from the oldest reading of the minute');
  // Paused for ten minutes, then resumed: the readings before the pause are too old to count.
  assert.equal(rates.observe(1, t0 + 640_000, 4000), undefined);
  assert.equal(rates.observe(1, t0 + 650_000, 4500), 50, 'the rate since the resume, not the average of the send');
  // Posts are kept apart.
  assert.equal(rates.observe(2, t0 + 650_000, 10), undefined);
  assert.equal(rates.observe(2, t0 + 652_000, 30), 10);
  assert.equal(rates.observe(1, t0 + 660_000, 5000), 50);
});

test('in its first minute a send shows its average since the start, before a second reading', async () => {
  const handle = await connectDatabase({ kind: 'sqlite', file: ':memory:' });
  after(() => handle.close());
  await migrateToLatest(handle.db);
  const now = 1_800_000_000_000;
  const nl = await makeNewsletter(handle.db, 0);
  const postId = await makePost(handle.db, nl.id, 0, { status: 'sending', started_at: now - 20_000, audience_frozen_at: now - 19_000 });
  await sql`with recursive n(i) as (select 1 union all select i + 1 from n where i < 500)
            insert into deliveries (post_id, email, message_id, status, sent_at, updated_at)
            select ${postId}, 'r' || i || '@example.com', '<' || i || '@x>', case when i <= 400 then 'sent' else 'queued' end, ${now}, 0 from n`.execute(handle.db);
  const progress = await readProgress(handle.db, postId, now, undefined, createSendRates());
  const rates = createSendRates();
  assert.equal(progress.ratePerSecond, 20, '400 sent in the 20 s since the start');
  assert.equal(progress.etaSeconds, 5, '100 left at 20 per second');
  // Once two readings are there, they say: a stalled send shows no rate, not its average.
  await readProgress(handle.db, postId, now, undefined, rates);
  const stalled = await readProgress(handle.db, postId, now + 10_000, undefined, rates);
  assert.equal(stalled.ratePerSecond, 0);
  assert.equal(stalled.etaSeconds, null);
});
