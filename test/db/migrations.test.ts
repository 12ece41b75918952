import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import { migrateDownAll, migrateToLatest } from '../../src/db/migrate.js';
import { createTestDb, DIALECTS, type TestDb } from '../helpers/db.js';

/** Tables the foundation migration owns; later migrations add more, which these tests tolerate. */
const FOUNDATION_TABLES = ['dev_outbox', 'sessions', 'settings', 'users'];

/**
 * The tables this test's database holds: on Postgres only its own schema. (Kysely's introspection reads
 * every schema of the database and trips over other test files dropping theirs meanwhile.)
 */
async function tableNames(t: TestDb, options: { internal?: boolean } = {}): Promise<string[]> {
  const query =
    t.dialect === 'postgres'
      ? sql<{ name: string }>`select tablename as name from pg_tables where schemaname = current_schema()`
      : sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`;
  const names = (await query.execute(t.db)).rows.map((r) => r.name);
  return names.filter((n) => options.internal || !n.startsWith('kysely_')).sort();
}

for (const dialect of DIALECTS) {
  describe(`migrations (${dialect})`, () => {
    let t: TestDb | undefined;
    afterEach(async () => {
      await t?.drop();
      t = undefined;
    });

    it('migrate to latest creates the tables, down removes them all, up again works', async () => {
      t = await createTestDb(dialect, { migrate: false });
      assert.deepEqual(await tableNames(t), []);

      const applied = await migrateToLatest(t.db);
      assert.ok(applied.length >= 1);
      assert.equal(applied[0], '2026_11_22_0001_foundation');
      assert.deepEqual([...applied].sort(), applied, 'migrations run in file-name order');
      const tables = await tableNames(t);
      for (const name of FOUNDATION_TABLES) assert.ok(tables.includes(name), `${name} exists after migrating up`);
      assert.deepEqual(await migrateToLatest(t.db), [], 'a second run has nothing to do');

      const rolledBack = await migrateDownAll(t.db);
      assert.deepEqual(rolledBack, [...applied].reverse(), 'every migration rolls back, newest first');
      assert.deepEqual(await tableNames(t), []);
      assert.deepEqual(await migrateDownAll(t.db), [], 'nothing left to roll back');

      assert.deepEqual(await migrateToLatest(t.db), applied);
      assert.deepEqual(await tableNames(t), tables);
    });

    if (dialect === 'postgres') {
      it('keeps its bookkeeping in its own schema when another schema of the database is migrated too', async () => {
        // Another Gazette (or any Kysely app) in a different schema of the same database.
        const neighbour = await createTestDb(dialect);
        try {
          t = await createTestDb(dialect, { migrate: false });
          const applied = await migrateToLatest(t.db);
          assert.equal(applied[0], '2026_11_22_0001_foundation');
          const mine = await tableNames(t, { internal: true });
          assert.ok(mine.includes('kysely_migration') && mine.includes('kysely_migration_lock'));
          assert.deepEqual(await migrateDownAll(t.db), [...applied].reverse());
          // The neighbour is untouched.
          assert.ok((await tableNames(neighbour)).includes('users'));
        } finally {
          await neighbour.drop();
        }
      });
    }

    it('the migrated schema takes rows, generates ids and enforces its constraints', async () => {
      t = await createTestDb(dialect);
      const at = Date.UTC(2026, 10, 22);
      const user = { email: 'a@example.com', name: 'A', password_hash: 'x', owner_lock: 1, created_at: at, updated_at: at };
      const { id } = await t.db.insertInto('users').values(user).returning('id').executeTakeFirstOrThrow();
      assert.equal(typeof id, 'number');
      await t.db.insertInto('sessions').values({ id: 's1', user_id: id, secret_hash: 'h', created_at: at, last_verified_at: at }).execute();

      // Epoch milliseconds come back as numbers on both dialects (bigint in Postgres).
      const session = await t.db.selectFrom('sessions').selectAll().executeTakeFirstOrThrow();
      assert.equal(session.created_at, at);

      // A second owner and a duplicate email are refused by unique constraints.
      await assert.rejects(t.db.insertInto('users').values({ ...user, email: 'b@example.com' }).execute());
      await assert.rejects(t.db.insertInto('users').values({ ...user, owner_lock: null }).execute());
      // Sessions must belong to a user, and go with them.
      await assert.rejects(
        t.db.insertInto('sessions').values({ id: 's2', user_id: id + 100, secret_hash: 'h', created_at: at, last_verified_at: at }).execute(),
      );
      await t.db.deleteFrom('users').where('id', '=', id).execute();
      assert.equal((await t.db.selectFrom('sessions').selectAll().execute()).length, 0);
    });
  });
}

describe('SQLite connection settings', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gazette-pragmas-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('uses WAL, foreign keys, FULL synchronous and a busy timeout', async () => {
    // WAL needs a real file: an in-memory database always reports journal_mode=memory.
    const t = await createTestDb('sqlite', { sqliteFile: path.join(dir, 'nested', 'gazette.db') });
    try {
      const pragma = async (name: string) => (await sql.raw(`pragma ${name}`).execute(t.db)).rows[0] as Record<string, unknown>;
      assert.deepEqual(await pragma('journal_mode'), { journal_mode: 'wal' });
      assert.deepEqual(await pragma('foreign_keys'), { foreign_keys: 1 });
      assert.deepEqual(await pragma('synchronous'), { synchronous: 2 });
      const busy = Object.values(await pragma('busy_timeout'))[0];
      assert.ok(typeof busy === 'number' && busy >= 1000, `busy_timeout is ${String(busy)}`);
    } finally {
      await t.drop();
    }
  });
});
