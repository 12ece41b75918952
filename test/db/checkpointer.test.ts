import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { sql } from 'kysely';
import { connectDatabase } from '../../src/db/connect.js';
import { startHosted } from '../../src/lib/thread-host.js';

test('a SQLite file is checkpointed by the background worker, not by commits on the main thread', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gazette-checkpoint-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'db.sqlite');
  // Rounds run when the test asks (the worker's own timer is set far away).
  const handle = await connectDatabase({ kind: 'sqlite', file }, { checkpointIntervalMs: 3_600_000 });
  assert.ok(handle.checkpointer, 'a file database gets a checkpointer');
  const { db } = handle;
  const { rows } = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(db);
  assert.equal(rows[0]!.wal_autocheckpoint, 10_000, 'the main connection only checkpoints as a fallback');
  const cache = await sql<{ cache_size: number }>`pragma cache_size`.execute(db);
  assert.equal(cache.rows[0]!.cache_size, -8000, 'an 8 MB page cache (better-sqlite3 would give 16 MB)');
  // The thread's own connection scans for the reads handed to it: a small cache there (peak RSS).
  assert.deepEqual(await handle.checkpointer.read('pragma cache_size', []), [{ cache_size: -2000 }]);

  await sql`create table t (n integer primary key, pad text)`.execute(db);
  await handle.checkpointer.round();
  const before = statSync(file).size;
  // About 3,000 pages: past SQLite's default of 1,000, where a commit on this thread would have checkpointed.
  for (let batch = 0; batch < 30; batch++) {
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < 100; i++) await sql`insert into t (pad) values (${'x'.repeat(4000)})`.execute(trx);
    });
  }
  assert.equal(statSync(file).size, before, 'no commit copied pages into the database file');
  assert.ok(statSync(`${file}-wal`).size > 3000 * 4096, 'the rows are in the write-ahead log');

  const result = await handle.checkpointer.round();
  assert.ok(result && result.log > 3000 && result.checkpointed === result.log, `every frame checkpointed: ${JSON.stringify(result)}`);
  assert.ok(statSync(file).size > before + 3000 * 4096, 'the pages are in the database file now');
  // The log starts over from the beginning on the next write instead of growing.
  const walSize = statSync(`${file}-wal`).size;
  await sql`insert into t (pad) values ('y')`.execute(db);
  assert.equal(statSync(`${file}-wal`).size, walSize);
  assert.equal((await sql<{ n: number }>`select count(*) as n from t`.execute(db)).rows[0]!.n, 3001);

  await handle.close();
  assert.equal(await handle.checkpointer.round(), null, 'stopped with the database');
});

test('the checkpointer starts again when a bug in another role ends the thread it shares', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gazette-checkpoint-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const handle = await connectDatabase({ kind: 'sqlite', file: path.join(dir, 'db.sqlite') }, { checkpointIntervalMs: 3_600_000 });
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    await sql`create table t (n integer primary key)`.execute(handle.db);
    assert.ok(await handle.checkpointer!.round(), 'a round runs');
    // Another role in the same thread (the SMTP pool, say) throws: the thread ends with every role in it.
    const other = startHosted(import.meta.url, '../lib/fixtures/echo-role', { name: 'other' });
    const exited = new Promise((resolve) => other.on('exit', resolve));
    other.ref();
    other.postMessage('throw');
    await exited;
    await sql`insert into t (n) values (1)`.execute(handle.db);
    const result = await handle.checkpointer!.round();
    assert.ok(result && result.log > 0 && result.checkpointed === result.log, `the new thread checkpoints: ${JSON.stringify(result)}`);
    assert.deepEqual(await handle.checkpointer!.read('select count(*) as n from t', []), [{ n: 1 }]);
    const { rows } = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(handle.db);
    assert.equal(rows[0]!.wal_autocheckpoint, 10_000, 'commits still leave the checkpoints to the thread');
    assert.ok(warnings.some((w) => w.includes('a bug in other') && w.includes('started again')), warnings.join('; '));
  } finally {
    process.off('warning', onWarning);
    await handle.close();
  }
});

test('an in-memory database has no checkpointer', async () => {
  const handle = await connectDatabase({ kind: 'sqlite', file: ':memory:' });
  assert.equal(handle.checkpointer, undefined);
  await handle.close();
});
