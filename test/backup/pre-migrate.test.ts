import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { restoreSqlite } from '../../src/backup/sqlite-backup.js';
import { openDatabase } from '../../src/boot.js';
import { loadConfig } from '../../src/config.js';
import { createMigrator, knownMigrationNames } from '../../src/db/migrate.js';

/** Upgrading a SQLite install: the database as the previous release left it is kept before migrating. */
describe('the backup before migrating (SQLite)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gazette-pre-migrate-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is taken when a new release has migrations to run, and only then', async () => {
    const config = loadConfig({ DATA_DIR: dir, BASE_URL: 'http://gazette.test', LOG_LEVEL: 'silent' });
    const backups = () => (readdirSync(dir).includes('backups') ? readdirSync(path.join(dir, 'backups')) : []);
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);

    // A fresh install has nothing to keep.
    let handle = await openDatabase(config, log);
    assert.deepEqual(backups(), []);
    // As if the previous release had run it last: its newest migration not run yet.
    const known = await knownMigrationNames();
    const down = await createMigrator(handle.db).migrateDown();
    assert.equal(down.results?.[0]?.migrationName, known.at(-1));
    await handle.close();

    handle = await openDatabase(config, log);
    await handle.close();
    const [file] = backups();
    assert.match(file ?? '', /^gazette-\d{8}-\d{6}-pre-migrate\.sqlite\.gz$/);
    assert.ok(lines.some((l) => l.startsWith('backed up the database before 1 new migration(s): ') && l.endsWith(file!)), lines.join('\n'));
    const restored = await restoreSqlite({ databaseFile: path.join(dir, 'check.db'), backupFile: path.join(dir, 'backups', file!), knownMigrations: known, now: Date.now() });
    assert.deepEqual(restored.manifest.migrations, known.slice(0, -1), 'the backup is the database before the migration');

    // Nothing pending: no backup.
    handle = await openDatabase(config, log);
    await handle.close();
    assert.equal(backups().length, 1);
  });
});
