import assert from 'node:assert/strict';
import { test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { withStatementCache } from '../../src/db/connect.js';

test('the statement cache hands back the prepared statement for the same SQL', () => {
  const sqlite = new SqliteDatabase(':memory:');
  const db = withStatementCache(sqlite);
  const a = db.prepare('select 1 as one');
  assert.equal(db.prepare('select 1 as one'), a);
  assert.notEqual(db.prepare('select 2 as two'), a);
  assert.deepEqual(db.prepare('select 1 as one').all([]), [{ one: 1 }]);
  db.close();
  assert.equal(sqlite.open, false);
});

test('a statement still being iterated is not handed out again', () => {
  const sqlite = new SqliteDatabase(':memory:');
  const db = withStatementCache(sqlite);
  db.prepare('create table t (n integer)').run([]);
  for (let n = 1; n <= 3; n++) db.prepare('insert into t (n) values (?)').run([n]);
  const first = db.prepare('select n from t order by n');
  const rows = first.iterate([]);
  assert.deepEqual(rows.next().value, { n: 1 });
  // The same query while the first is half-way: a fresh statement, and both give the right rows.
  const second = db.prepare('select n from t order by n');
  assert.notEqual(second, first);
  assert.deepEqual(second.all([]), [{ n: 1 }, { n: 2 }, { n: 3 }]);
  assert.deepEqual([...rows], [{ n: 2 }, { n: 3 }]);
  db.close();
});

test('the cache keeps at most its bound, dropping the least recently used', () => {
  const sqlite = new SqliteDatabase(':memory:');
  const db = withStatementCache(sqlite, 2);
  const one = db.prepare('select 1');
  const two = db.prepare('select 2');
  assert.equal(db.prepare('select 1'), one); // 1 is now the most recent
  db.prepare('select 3'); // evicts 2
  assert.equal(db.prepare('select 1'), one);
  assert.notEqual(db.prepare('select 2'), two);
  db.close();
});

test('statements prepared before a schema change still see the new schema', () => {
  const sqlite = new SqliteDatabase(':memory:');
  const db = withStatementCache(sqlite);
  db.prepare('create table t (a integer)').run([]);
  db.prepare('insert into t (a) values (1)').run([]);
  assert.deepEqual(db.prepare('select * from t').all([]), [{ a: 1 }]);
  db.prepare('alter table t add column b integer default 7').run([]);
  assert.deepEqual(db.prepare('select * from t').all([]), [{ a: 1, b: 7 }]);
  db.close();
});
