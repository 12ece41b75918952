import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { migrateToLatest, MigrationError } from '../../src/db/migrate.js';
import { createTestDb, DIALECTS } from '../helpers/db.js';

/**
 * A release starting on a database a newer release has already migrated: an old process restarting in
 * the middle of a rolling upgrade, or a rollback to the previous image. Expand/contract migrations make
 * that schema one the old code runs on, so it starts without migrating; only a database migrated by
 * another line of releases (it lacks some of this release's migrations) is refused.
 */
for (const dialect of DIALECTS) {
  describe(`starting on a newer schema (${dialect})`, () => {
    it('starts without migrating when the database is ahead, and refuses a divergent one', async () => {
      const db = await createTestDb(dialect);
      try {
        const newer = '2099_01_01_0001_from_a_later_release';
        await db.db.insertInto('kysely_migration' as never).values({ name: newer, timestamp: new Date().toISOString() } as never).execute();
        const lines: string[] = [];
        assert.deepEqual(await migrateToLatest(db.db, (l) => lines.push(l)), []);
        assert.match(lines.join('\n'), /schema is newer than this release \(it has 2099_01_01_0001_from_a_later_release\): starting without migrating/);
        // The database still serves this release's queries.
        assert.deepEqual(await db.db.selectFrom('subscribers').select('id').execute(), []);

        // Take one of this release's own migrations away: now the database went down another line.
        const own = (await db.db.selectFrom('kysely_migration' as never).select('name' as never).orderBy('name' as never, 'desc').execute()) as Array<{ name: string }>;
        await db.db.deleteFrom('kysely_migration' as never).where('name' as never, '=', own[1]!.name as never).execute();
        await assert.rejects(migrateToLatest(db.db), (err: unknown) => err instanceof MigrationError && /another line of releases/.test(err.message) && err.message.includes(own[1]!.name));
      } finally {
        await db.drop();
      }
    });
  });
}
