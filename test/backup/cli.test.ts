import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { restorePostgres } from '../../src/backup/postgres-backup.js';
import { BackupError, EXIT } from '../../src/backup/sqlite-backup.js';
import { knownMigrationNames } from '../../src/db/migrate.js';
import { createTestDb } from '../helpers/db.js';
import { freePort, runCli, startGazette, waitHealthy } from '../helpers/gazette-process.js';
import { addReaders, makeNewsletter } from '../sending/fixtures.js';

const TEST_BASE_URL = 'http://gazette.test';

/** `npm run cli -- backup` and `restore <file>` as an operator runs them: exit codes and messages. */

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gazette-backup-cli-'));
  tempDirs.push(dir);
  return dir;
}

describe('the backup and restore commands', { concurrency: 2 }, () => {
  after(() => {
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('SQLite: backs up, refuses to restore under a running server or from a bad file, restores once it stops', async () => {
    const dataDir = tempDir();
    const env = { DATA_DIR: dataDir, BASE_URL: TEST_BASE_URL, LOG_LEVEL: 'warn', SECRET_KEY: 'k'.repeat(40) };
    const port = await freePort();
    const server = startGazette('server', { ...env, PORT: String(port), HOST: '127.0.0.1' });
    try {
      await waitHealthy(server, port);
      // Taken while the server runs.
      const backup = await runCli(env, ['backup']);
      assert.equal(backup.code, 0, backup.output);
      assert.match(backup.output, /backup written: .*gazette-\d{8}-\d{6}\.sqlite\.gz \(\d+ KB, 0 subscribers, schema \d{4}_\d{2}_\d{2}_\d{4}_\w+\)/);
      const [file] = readdirSync(path.join(dataDir, 'backups'));
      const backupFile = path.join(dataDir, 'backups', file!);

      const refused = await runCli(env, ['restore', backupFile]);
      assert.equal(refused.code, 3, refused.output);
      assert.match(refused.output, /is in use: stop Gazette first/);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    const garbage = path.join(dataDir, 'garbage.sqlite.gz');
    writeFileSync(garbage, Buffer.from('not a backup at all'));
    const bad = await runCli(env, ['restore', garbage]);
    assert.equal(bad.code, 4, bad.output);
    assert.match(bad.output, /garbage\.sqlite\.gz was refused: it is not a SQLite database/);

    const [file] = readdirSync(path.join(dataDir, 'backups'));
    const restored = await runCli(env, ['restore', path.join(dataDir, 'backups', file!)]);
    assert.equal(restored.code, 0, restored.output);
    assert.match(restored.output, /kept as .*gazette\.db\.pre-restore/);
    assert.ok(existsSync(path.join(dataDir, 'gazette.db.pre-restore')));
  });

  it('Postgres: says clearly, with exit code 2, when pg_dump is not installed', async () => {
    const emptyPath = tempDir();
    const env = { PATH: emptyPath, DATA_DIR: tempDir(), BASE_URL: TEST_BASE_URL, DATABASE_URL: 'postgres://gazette@127.0.0.1:1/gazette' };
    const dump = await runCli(env, ['backup']);
    assert.equal(dump.code, 2, dump.output);
    assert.match(dump.output, /pg_dump is not installed\. Install the PostgreSQL client tools/);
  });

  it('Postgres: pg_dump and pg_restore round trip, refused while a Gazette process runs', { skip: !process.env.TEST_DATABASE_URL }, async () => {
    const db = await createTestDb('postgres');
    try {
      const now = Date.now();
      const newsletter = await makeNewsletter(db.db, now);
      await addReaders(db.db, newsletter.id, now, 25, { prefix: 'pg-reader-' });
      const backupDir = tempDir();
      const env = { DATA_DIR: tempDir(), BASE_URL: TEST_BASE_URL, DATABASE_URL: db.url!, BACKUP_DIR: backupDir };
      const backup = await runCli(env, ['backup']);
      assert.equal(backup.code, 0, backup.output);
      const [file] = readdirSync(backupDir);
      assert.match(file!, /^gazette-\d{8}-\d{6}\.pgdump$/);

      // Changes after the backup, which the restore undoes.
      await db.db.deleteFrom('subscriptions').execute();
      await db.db.deleteFrom('subscribers').where('email', 'like', 'pg-reader-1%').execute();
      await db.db.insertInto('leases').values({ name: 'sender:elsewhere', owner: 'elsewhere', expires_at: Date.now() + 60_000 }).execute();
      const refused = await runCli(env, ['restore', path.join(backupDir, file!)]);
      assert.equal(refused.code, 3, refused.output);
      assert.match(refused.output, /1 Gazette process\(es\) are using this database/);
      await db.db.deleteFrom('leases').execute();

      const notADump = path.join(backupDir, 'notes.txt');
      writeFileSync(notADump, 'hello');
      await assert.rejects(
        restorePostgres({ url: db.url!, file: notADump, knownMigrations: await knownMigrationNames() }),
        (err: unknown) => err instanceof BackupError && err.exitCode === EXIT.refusedFile && /not a pg_dump file in custom format/.test(err.message),
      );

      const restored = await runCli(env, ['restore', path.join(backupDir, file!)]);
      assert.equal(restored.code, 0, restored.output);
      const emails = await db.db.selectFrom('subscribers').select('email').execute();
      assert.equal(emails.length, 25);
      assert.equal((await db.db.selectFrom('subscriptions').select('id').execute()).length, 25);
    } finally {
      await db.drop();
    }
  });
});
