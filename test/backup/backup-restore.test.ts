import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import Sqlite from 'better-sqlite3';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { backupSqlite, BackupError, EXIT, restoreSqlite } from '../../src/backup/sqlite-backup.js';
import { checkDatabaseFile } from '../../src/backup/sqlite-file-repository.js';
import type { Db } from '../../src/db/database.js';
import { knownMigrationNames } from '../../src/db/migrate.js';
import { buildTestApp, setupOwner, type TestApp } from '../helpers/app.js';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp-server.js';
import { addReaders, makeNewsletter, makePost } from '../sending/fixtures.js';
import { firstNewsletterId, uploadCsv } from '../features/subscribers/factories.js';

/**
 * A backup taken while a send and an import are both half-way, restored into a fresh data folder:
 * Gazette starts on it and finds every subscriber and every delivery as they were when the backup was
 * taken; the send then goes on from there without sending anyone twice.
 */

const READERS = 120;
const IMPORT_ROWS = 1200; // the import runs in batches of 500: the backup sees exactly the first batch
const SENT_BEFORE_HOLD = 30;

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gazette-backup-'));
  tempDirs.push(dir);
  return dir;
}

async function until(what: string, predicate: () => Promise<boolean>): Promise<void> {
  // A condition other parts of this process make true: checked on every turn of the event loop.
  for (let i = 0; i < 200_000; i++) {
    if (await predicate()) return;
    await tick();
  }
  assert.fail(`timed out waiting for ${what}`);
}

type DeliveryState = { email: string; status: string; message_id: string };
const deliveryStates = async (db: Db, postId: number): Promise<DeliveryState[]> =>
  db.selectFrom('deliveries').select(['email', 'status', 'message_id']).where('post_id', '=', postId).orderBy('email').execute();
const emails = async (db: Db): Promise<string[]> => (await db.selectFrom('subscribers').select('email').orderBy('email').execute()).map((r) => r.email);

describe('backup during a send and an import, restored into a fresh data folder', () => {
  after(() => {
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('restores every subscriber and delivery as of the backup, and the send goes on once', async () => {
    const live = tempDir();
    const databaseFile = path.join(live, 'gazette.db');
    const backupDir = path.join(live, 'backups');
    const relay: TestSmtpServer = await startSmtpServer({ parse: false });
    // The relay accepts SENT_BEFORE_HOLD messages, then holds every answer: those messages stay in flight.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let accepted = 0;
    let holding = 0;
    relay.respond.onData = async () => {
      if (++accepted <= SENT_BEFORE_HOLD) return undefined;
      holding++;
      await held;
      return undefined;
    };
    let importMayGoOn!: () => void;
    const importGate = new Promise<void>((resolve) => (importMayGoOn = resolve));
    let importWaiting = false;
    const t: TestApp = await buildTestApp('sqlite', {
      sqliteFile: databaseFile,
      env: { SMTP_URL: relay.url, SMTP_POOL_SIZE: '2', BACKUP_DIR: backupDir },
      importBetweenBatches: async () => {
        importWaiting = true;
        await importGate;
      },
    });
    let restored: TestApp | undefined;
    const relay2 = await startSmtpServer({ parse: false });
    try {
      const agent = await setupOwner(t);
      const newsletterId = await firstNewsletterId(t.db.db);
      await addReaders(t.db.db, newsletterId, t.clock.now(), READERS, { prefix: 'reader-' });
      const postId = await makePost(t.db.db, newsletterId, t.clock.now());
      await t.sending.startPost(postId);
      const sending = t.sending.runOnce();

      await agent.get('/admin/subscribers/import');
      const csv = `email\n${Array.from({ length: IMPORT_ROWS }, (_, i) => `imported-${i}@example.com`).join('\n')}\n`;
      const upload = await uploadCsv(agent, { newsletter_id: String(newsletterId), mode: 'confirmed' }, { filename: 'list.csv', content: csv });
      assert.equal(upload.statusCode, 303, upload.body.slice(0, 500));

      // Both are half-way and standing still: the send with messages in flight, the import between batches.
      await until('the send and the import to stand still', async () => {
        if (!importWaiting || holding < 2) return false;
        const counts = await t.db.db.selectFrom('deliveries').select('status').where('post_id', '=', postId).where('status', '=', 'sent').execute();
        return counts.length === SENT_BEFORE_HOLD;
      });
      const subscribersThen = await emails(t.db.db);
      const deliveriesThen = await deliveryStates(t.db.db, postId);
      const importThen = await t.db.db.selectFrom('imports').select(['status', 'created_count']).executeTakeFirstOrThrow();
      assert.equal(subscribersThen.length, READERS + 500);
      assert.ok(deliveriesThen.some((d) => d.status === 'attempting'), 'messages are in flight');
      assert.ok(deliveriesThen.some((d) => d.status === 'sent'));

      const backup = await backupSqlite({ databaseFile, dir: backupDir, now: t.clock.now(), retention: { daily: 7, weekly: 4 } });
      assert.equal(backup.manifest.subscribers, subscribersThen.length);
      const byStatus: Record<string, number> = {};
      for (const d of deliveriesThen) byStatus[d.status] = (byStatus[d.status] ?? 0) + 1;
      assert.deepEqual(backup.manifest.deliveries, byStatus);
      assert.match(path.basename(backup.file), /^gazette-\d{8}-\d{6}\.sqlite\.gz$/);

      // The scheduled job does the same; the registry knows it.
      assert.ok(t.jobs.jobs().some((j) => j.name === 'backup'));
      const run = await t.jobs.runOnce('backup');
      assert.equal(run.outcome, 'ok', JSON.stringify(run));
      assert.equal(readdirSync(backupDir).filter((f) => f.endsWith('.sqlite.gz')).length, 2);

      // Restoring over the running app's database is refused, and changes nothing.
      const known = await knownMigrationNames();
      await assert.rejects(
        restoreSqlite({ databaseFile, backupFile: backup.file, knownMigrations: known, now: t.clock.now() }),
        (err: unknown) => err instanceof BackupError && err.exitCode === EXIT.inUse && /in use: stop Gazette first/.test(err.message),
      );
      assert.deepEqual(await emails(t.db.db), subscribersThen);

      // Both go on to the end on the live database.
      release();
      importMayGoOn();
      await sending;
      await t.app.imports.idle();
      assert.equal((await emails(t.db.db)).length, READERS + IMPORT_ROWS);

      // A fresh data folder, the backup restored into it, Gazette started on it.
      const fresh = tempDir();
      const freshFile = path.join(fresh, 'gazette.db');
      const r = await restoreSqlite({ databaseFile: freshFile, backupFile: backup.file, knownMigrations: known, now: t.clock.now() });
      assert.equal(r.preRestore, undefined);
      const check = checkDatabaseFile(freshFile);
      assert.ok(check.ok, check.ok ? '' : check.problem);
      restored = await buildTestApp('sqlite', { sqliteFile: freshFile, env: { SMTP_URL: relay2.url, SMTP_POOL_SIZE: '2' } });
      const health = await restored.app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(health.statusCode, 200);
      assert.deepEqual(await emails(restored.db.db), subscribersThen);
      assert.deepEqual(await deliveryStates(restored.db.db, postId), deliveriesThen);
      assert.deepEqual(await restored.db.db.selectFrom('imports').select(['status', 'created_count']).executeTakeFirstOrThrow(), importThen);
      const signIn = await restored.agent().post('/login', { email: 'olive@example.com', password: 'a long enough passphrase' });
      assert.equal(signIn.statusCode, 303, 'the owner account came back too');

      // The send goes on: messages in flight at the backup are unknown (never re-sent blindly), those
      // not yet attempted go out once, and no one already sent hears from us again.
      // What the server does after listen (start()): recovery, then the send loop.
      await restored.sending.recover();
      await restored.sending.runOnce();
      const waiting = deliveriesThen.filter((d) => d.status === 'queued' || d.status === 'claimed').map((d) => d.email);
      const attempting = deliveriesThen.filter((d) => d.status === 'attempting').map((d) => d.email);
      const delivered = relay2.messages.flatMap((m) => m.envelope.to).sort();
      assert.deepEqual(delivered, [...waiting].sort());
      const after = await deliveryStates(restored.db.db, postId);
      for (const d of after) {
        if (attempting.includes(d.email)) assert.equal(d.status, 'unknown', d.email);
        else assert.equal(d.status, 'sent', d.email);
      }
    } finally {
      release();
      importMayGoOn();
      await restored?.close();
      await t.close();
      await relay.close();
      await relay2.close();
    }
  });

  it('refuses a corrupt file, a foreign database and one from a newer Gazette, and keeps the old database', async () => {
    const dir = tempDir();
    const databaseFile = path.join(dir, 'gazette.db');
    const t = await buildTestApp('sqlite', { sqliteFile: databaseFile });
    await addReaders(t.db.db, (await makeNewsletter(t.db.db, t.clock.now())).id, t.clock.now(), 3);
    const good = await backupSqlite({ databaseFile, dir: path.join(dir, 'backups'), now: Date.UTC(2026, 11, 1), retention: { daily: 7, weekly: 4 } });
    await t.close();
    const known = await knownMigrationNames();
    const restore = (backupFile: string) => restoreSqlite({ databaseFile, backupFile, knownMigrations: known, now: Date.UTC(2026, 11, 2) });
    const refused = (pattern: RegExp) => (err: unknown) => err instanceof BackupError && err.exitCode === EXIT.refusedFile && pattern.test(err.message);

    const garbage = path.join(dir, 'garbage.sqlite');
    writeFileSync(garbage, Buffer.alloc(8192, 7));
    await assert.rejects(restore(garbage), refused(/not a SQLite database/));
    const truncatedGzip = path.join(dir, 'cut.sqlite.gz');
    writeFileSync(truncatedGzip, readFileSync(good.file).subarray(0, 200));
    await assert.rejects(restore(truncatedGzip), refused(/was refused/));

    const foreign = path.join(dir, 'other-app.db');
    const other = new Sqlite(foreign);
    other.exec('create table notes (id integer primary key, body text)');
    other.close();
    await assert.rejects(restore(foreign), refused(/not a Gazette one/));

    const newer = path.join(dir, 'newer.db');
    writeFileSync(newer, gunzipSync(readFileSync(good.file)));
    const n = new Sqlite(newer);
    n.prepare('insert into kysely_migration (name, timestamp) values (?, ?)').run('2099_01_01_0001_from_the_future', new Date().toISOString());
    n.close();
    await assert.rejects(restore(newer), refused(/newer version of Gazette \(schema 2099_01_01_0001_from_the_future\)/));

    // None of that touched the database; a good backup replaces it and keeps it as .pre-restore.
    assert.ok(checkDatabaseFile(databaseFile).ok);
    const r = await restore(good.file);
    assert.equal(r.preRestore, `${databaseFile}.pre-restore`);
    assert.equal(r.manifest.subscribers, 3);
    const again = await restore(good.file);
    assert.equal(again.preRestore, `${databaseFile}.pre-restore`);
    assert.ok(readdirSync(dir).some((f) => /^gazette\.db\.pre-restore-\d{8}-\d{6}$/.test(f)), 'an earlier .pre-restore is kept under its time');
  });
});
