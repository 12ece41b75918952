import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { sql, type KyselyPlugin, type QueryId, type RootOperationNode } from 'kysely';
import { connectDatabase } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { readProgress } from '../../src/sending/progress.js';
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
  // 600 sent (200 of them within the last minute), 300 queued, 100 failed.
  await sql`with recursive n(i) as (select 1 union all select i + 1 from n where i < 1000)
            insert into deliveries (post_id, email, message_id, status, sent_at, updated_at)
            select ${postId}, 'r' || i || '@example.com', '<' || i || '@x>',
                   case when i <= 600 then 'sent' when i <= 900 then 'queued' else 'failed' end,
                   case when i <= 400 then ${now - 90_000} when i <= 600 then ${now - 30_000} end, 0
            from n`.execute(handle.db);

  const spy = executedStatements();
  const db = handle.db.withPlugin(spy.plugin);
  const aside = await readProgress(db, postId, now, handle.readAside);
  assert.deepEqual([aside.sent, aside.queued, aside.failed, aside.total], [600, 300, 100, 1000]);
  assert.equal(Math.round(aside.ratePerSecond * 60), 200, 'sent in the last minute, per second');
  assert.equal(spy.executed.filter((s) => s.includes('"count"')).length, 0, 'no count ran on the main connection');

  // The main thread's own answer is the same.
  const here = await readProgress(handle.db, postId, now);
  assert.deepEqual(here.counts, aside.counts);
  assert.equal(here.ratePerSecond, aside.ratePerSecond);

  // The worker runs reads only: a write is handed back, and nothing changed.
  assert.equal(await handle.checkpointer.read('delete from deliveries', []), null);
  assert.equal((await readProgress(handle.db, postId, now)).total, 1000);

  // Once the thread is stopped the counts run here.
  await handle.checkpointer.stop();
  const fallback = await readProgress(db, postId, now, handle.readAside);
  assert.deepEqual(fallback.counts, aside.counts);
  assert.equal(spy.executed.filter((s) => s.includes('"count"')).length, 1, 'the count ran here');
  assert.equal(fallback.ratePerSecond, aside.ratePerSecond);
});
