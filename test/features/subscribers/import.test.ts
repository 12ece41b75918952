import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import { insertImport } from '../../../src/features/imports/repository.js';
import { runImport } from '../../../src/features/imports/runner.js';
import { findNewsletterById } from '../../../src/features/newsletters/repository.js';
import { emailHash, suppress } from '../../../src/domain/suppressions.js';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { count, firstNewsletterId, makeSubscriber, parseCsv, uploadCsv } from './factories.js';

const ROWS = 10_000;
const INVALID = ['not-an-email', '', 'a@b', 'two@@example.com', "=cmd|' /C calc'!A0"];

/**
 * A Mailchimp-style export of 10,000 rows: 9,900 good ones (one already active, one already there without
 * a name, one unsubscribed, one suppressed), 50 invalid addresses and 50 repeats of earlier rows.
 */
function mailchimpCsv(): { csv: string; good: number } {
  const lines = ['"Email Address","First Name","Last Name","City","TAGS"'];
  let good = 0;
  for (let i = 0; i < ROWS; i++) {
    if (i % 200 === 7) lines.push(`${INVALID[(i / 200) % INVALID.length | 0]},Bad,Row,Nowhere,`);
    else if (i % 200 === 11) lines.push(`USER${String(i - 5).padStart(5, '0')}@Example.com,Dup,Row,Again,`);
    else {
      good++;
      const city = i === 3 ? '"Paris, ""the"" city\nof light"' : `City ${i % 10}`;
      const tags = i % 2 === 0 ? '"""even"",""mailchimp"""' : ''; // Mailchimp quotes each tag inside the cell
      lines.push(`user${String(i).padStart(5, '0')}@example.com,First${i},Last${i},${city},${tags}`);
    }
  }
  return { csv: `\uFEFF${lines.join('\r\n')}\r\n`, good };
}

for (const dialect of DIALECTS) {
  describe(`CSV import (${dialect})`, () => {
    let t: TestApp;
    let agent: Agent;
    let weekly: number;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      agent = await setupOwner(t);
      weekly = await firstNewsletterId(t.db.db);
      await agent.get('/admin/subscribers/import');
    });
    afterEach(() => t.close());

    /** The log's events about subscribers; an import also logs that it finished. */
    const subscriberEvents = async () =>
      Number((await t.db.db.selectFrom('events').select((eb) => eb.fn.countAll<number>().as('n')).where('type', '!=', 'import_finished').executeTakeFirstOrThrow()).n);
    const importRow = (publicId: string) => t.db.db.selectFrom('imports').selectAll().where('public_id', '=', publicId).executeTakeFirstOrThrow();

    async function upload(fields: Record<string, string>, filename: string, content: string | Buffer) {
      const res = await uploadCsv(agent, fields, { filename, content });
      assert.equal(res.statusCode, 303, res.body.slice(0, 2000));
      const publicId = String(res.headers.location).split('/').pop()!;
      await t.app.imports.idle();
      return publicId;
    }

    it('imports 10,000 rows with bad ones, reports them, and a re-run changes nothing', async () => {
      const db = t.db.db;
      await makeSubscriber(db, { email: 'user00000@example.com', name: 'Kept Name', subscriptions: [{ newsletterId: weekly, status: 'active' }] });
      await makeSubscriber(db, { email: 'user00001@example.com', name: '', subscriptions: [{ newsletterId: weekly, status: 'active' }] });
      await makeSubscriber(db, { email: 'user00002@example.com', name: 'Gone', subscriptions: [{ newsletterId: weekly, status: 'unsubscribed' }] });
      await suppress(db, 'user00004@example.com', 'bounced', 1);
      const { csv, good } = mailchimpCsv();
      assert.equal(good, 9_900);

      const publicId = await upload({ newsletter_id: String(weekly), mode: 'confirmed', tags: 'imported, spring 2026' }, 'mailchimp.csv', csv);
      const job = await importRow(publicId);
      assert.equal(job.status, 'done', job.error ?? '');
      assert.equal(job.total_rows, ROWS);
      assert.equal(job.invalid_count, 50);
      assert.equal(job.duplicate_count, 50);
      assert.equal(job.skipped_count, 2); // the unsubscribed and the suppressed address
      assert.equal(job.created_count, good - 4); // minus the two already active, the unsubscribed, the suppressed
      assert.equal(job.updated_count, 2); // both existing active subscribers got tags; one also got a name
      assert.equal(job.bytes_read, job.file_size);

      assert.equal(await count(db, 'subscribers'), 3 + good - 4);
      if (dialect === 'postgres') {
        // Analyzed as the import ends (refreshStatistics): the list and the next send are planned from it.
        const { rows } = await sql<{ n: number }>`select reltuples::float8 as n from pg_class
          where relname = 'subscribers' and relnamespace = current_schema()::regnamespace`.execute(db);
        assert.equal(Number(rows[0]!.n), 3 + good - 4);
      }
      const user = (email: string) => db.selectFrom('subscribers').selectAll().where('email', '=', email).executeTakeFirst();
      assert.equal((await user('user00000@example.com'))?.name, 'Kept Name');
      assert.equal((await user('user00001@example.com'))?.name, 'First1 Last1');
      assert.equal(await user('user00004@example.com'), undefined);
      const paris = await user('user00003@example.com');
      assert.equal(paris?.name, 'First3 Last3');
      assert.deepEqual(JSON.parse(paris!.attributes), { City: 'Paris, "the" city\nof light' });
      assert.equal(paris?.email_hash, emailHash('user00003@example.com'));
      const gone = await user('user00002@example.com');
      const goneSubs = await db.selectFrom('subscriptions').select('status').where('subscriber_id', '=', gone!.id).execute();
      assert.deepEqual(goneSubs.map((s) => s.status), ['unsubscribed']);
      const active = await db.selectFrom('subscriptions').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'active').executeTakeFirstOrThrow();
      assert.equal(Number(active.n), 2 + good - 4);
      const tagNames = (await db.selectFrom('tags').select('name').orderBy('name').execute()).map((r) => r.name);
      assert.deepEqual(tagNames, ['even', 'imported', 'mailchimp', 'spring 2026']);

      // The progress page (as a page reload would show it) and the problems report.
      const page = await agent.get(`/admin/subscribers/import/${publicId}`);
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /Import finished/);
      assert.doesNotMatch(page.body, /hx-trigger="every/);
      assert.match(page.body, /Download the report of 102 rows not imported/);
      const report = await agent.get(`/admin/subscribers/import/${publicId}/problems.csv`);
      assert.equal(report.statusCode, 200);
      assert.match(String(report.headers['content-type']), /^text\/csv/);
      assert.match(String(report.headers['content-disposition']), /^attachment; filename="import-problems-/);
      const rows = parseCsv(report.body);
      assert.deepEqual(rows[0], ['line', 'email', 'problem']);
      assert.equal(rows.length, 1 + 102);
      const lines = rows.slice(1).map((r) => Number(r[0]));
      assert.deepEqual(lines, [...lines].sort((a, b) => a - b));
      assert.ok(rows.some((r) => r[1] === "'=cmd|' /C calc'!A0" && r[2] === 'not a valid email address'), 'formula cell escaped');
      assert.ok(rows.some((r) => r[1] === 'user00004@example.com' && /suppressed/.test(r[2]!)));
      assert.ok(rows.some((r) => r[1] === 'user00002@example.com' && /unsubscribed/.test(r[2]!)));
      assert.equal(rows.filter((r) => /duplicate/.test(r[2]!)).length, 50);
      // Line numbers are the file's: the header is line 1, the multi-line cell pushes later rows down.
      assert.ok(rows.some((r) => r[0] === '10' && r[1] === 'not-an-email'));

      const before = {
        subscribers: await count(db, 'subscribers'),
        subscriptions: await count(db, 'subscriptions'),
        subscriber_tags: await count(db, 'subscriber_tags'),
        tags: await count(db, 'tags'),
        events: await subscriberEvents(),
      };
      const attributesBefore = (await user('user00003@example.com'))!.attributes;
      const again = await upload({ newsletter_id: String(weekly), mode: 'confirmed', tags: 'imported, spring 2026' }, 'mailchimp.csv', csv);
      const second = await importRow(again);
      assert.equal(second.status, 'done');
      assert.equal(second.created_count, 0);
      assert.equal(second.updated_count, 0);
      assert.equal(second.skipped_count, 2);
      assert.equal(second.invalid_count, 50);
      assert.equal(second.duplicate_count, 50);
      assert.deepEqual(
        {
          subscribers: await count(db, 'subscribers'),
          subscriptions: await count(db, 'subscriptions'),
          subscriber_tags: await count(db, 'subscriber_tags'),
          tags: await count(db, 'tags'),
          events: await subscriberEvents(),
        },
        before,
      );
      const finished = await db.selectFrom('events').select('data').where('type', '=', 'import_finished').orderBy('id').execute();
      assert.equal(finished.length, 2, 'each import logs that it finished');
      assert.deepEqual(JSON.parse(finished[1]!.data), { import: again, status: 'done', error: null, total: 10_000, created: 0, updated: 0, skipped: 2, invalid: 50, duplicates: 50 });
      assert.equal((await user('user00003@example.com'))!.attributes, attributesBefore);
    });

    it('gives the same result whatever the batch boundaries cut through', async () => {
      const db = t.db.db;
      await makeSubscriber(db, { email: 'gone@example.com', subscriptions: [{ newsletterId: weekly, status: 'unsubscribed' }] });
      await makeSubscriber(db, { email: 'half@example.com', name: '', subscriptions: [{ newsletterId: weekly, status: 'active' }] });
      await suppress(db, 'blocked@example.com', 'bounced', 1);
      // With batches of 4 (rows and problems alike), each kind of row lands in a later batch than the
      // row it depends on: the duplicates, the suppressed and unsubscribed addresses, the fill-in.
      const csv = [
        'email,name,tags',
        'a@example.com,A,x',
        'b@example.com,B,',
        'bad-address,,',
        'c@example.com,,y',
        'A@Example.com,Dup,',
        'gone@example.com,Gone,',
        'blocked@example.com,,',
        'd@example.com,D,x',
        'half@example.com,Half Filled,y',
        'b@example.com,B again,',
        'e@example.com,E,',
      ].join('\n');
      const newsletter = (await findNewsletterById(db, weekly))!;
      async function run(batchSize: number) {
        const filePath = path.join(mkdtempSync(path.join(os.tmpdir(), 'gazette-import-test-')), 'list.csv');
        writeFileSync(filePath, csv);
        const publicId = `batch${batchSize}`;
        const importId = await insertImport(db, { publicId, newsletterId: weekly, filename: 'list.csv', mode: 'confirmed', tags: '["spring"]', fileSize: csv.length, at: t.clock.now() });
        await runImport({ db, clock: t.clock, batchSize }, { importId, publicId, newsletter, mode: 'confirmed', tags: ['spring'], filePath });
        return importRow(publicId);
      }

      const first = await run(4);
      assert.equal(first.status, 'done', first.error ?? '');
      assert.deepEqual(
        [first.total_rows, first.created_count, first.updated_count, first.skipped_count, first.invalid_count, first.duplicate_count],
        [11, 5, 1, 2, 1, 2],
      );
      const report = parseCsv((await agent.get(`/admin/subscribers/import/${first.public_id}/problems.csv`)).body).slice(1);
      assert.deepEqual(report.map((r) => [r[0], r[1]]), [
        ['4', 'bad-address'],
        ['6', 'a@example.com'],
        ['7', 'gone@example.com'],
        ['8', 'blocked@example.com'],
        ['11', 'b@example.com'],
      ]);
      const subscribers = await db.selectFrom('subscribers').select(['email', 'name']).orderBy('email').execute();
      assert.deepEqual(subscribers.map((s) => `${s.email}:${s.name}`), [
        'a@example.com:A', 'b@example.com:B', 'c@example.com:', 'd@example.com:D', 'e@example.com:E', 'gone@example.com:', 'half@example.com:Half Filled',
      ]);
      const tagged = await db
        .selectFrom('subscriber_tags as st')
        .innerJoin('tags as tg', 'tg.id', 'st.tag_id')
        .innerJoin('subscribers as s', 's.id', 'st.subscriber_id')
        .select(['s.email', 'tg.name'])
        .orderBy('s.email')
        .orderBy('tg.name')
        .execute();
      assert.deepEqual(tagged.map((r) => `${r.email}:${r.name}`), [
        'a@example.com:spring', 'a@example.com:x', 'b@example.com:spring', 'c@example.com:spring', 'c@example.com:y',
        'd@example.com:spring', 'd@example.com:x', 'e@example.com:spring', 'half@example.com:spring', 'half@example.com:y',
      ]);
      const gone = await db.selectFrom('subscriptions as sb').innerJoin('subscribers as s', 's.id', 'sb.subscriber_id').select('sb.status').where('s.email', '=', 'gone@example.com').execute();
      assert.deepEqual(gone.map((g) => g.status), ['unsubscribed']);

      // Cut elsewhere, the same file changes nothing more.
      const tables = async () => [...(await Promise.all((['subscribers', 'subscriptions', 'subscriber_tags'] as const).map((table) => count(db, table)))), await subscriberEvents()];
      const before = await tables();
      const second = await run(3);
      assert.deepEqual([second.created_count, second.updated_count, second.skipped_count, second.duplicate_count], [0, 0, 2, 2]);
      assert.deepEqual(await tables(), before);
    });

    it('"send confirmation" creates pending subscriptions and mails each new one once', async () => {
      const csv = 'email,name\nann@example.com,Ann\nbob@example.com,Bob\n';
      const publicId = await upload({ newsletter_id: String(weekly), mode: 'send_confirmation' }, 'list.csv', csv);
      assert.equal((await importRow(publicId)).created_count, 2);
      const statuses = await t.db.db.selectFrom('subscriptions').select('status').execute();
      assert.deepEqual(statuses.map((s) => s.status), ['pending', 'pending']);
      const to = t.mailer.sent.map((m) => String(m.to)).sort();
      assert.deepEqual(to, ['ann@example.com', 'bob@example.com']);
      await upload({ newsletter_id: String(weekly), mode: 'send_confirmation' }, 'list.csv', csv);
      assert.equal(t.mailer.sent.length, 2, 'a re-run sends no second confirmation');
      // "Already confirmed" may then activate them (the writer vouches for consent).
      const third = await upload({ newsletter_id: String(weekly), mode: 'confirmed' }, 'list.csv', csv);
      assert.equal((await importRow(third)).updated_count, 2);
      assert.deepEqual((await t.db.db.selectFrom('subscriptions').select('status').execute()).map((s) => s.status), ['active', 'active']);
    });

    it('queues each confirmation in its batch\'s transaction: a batch whose mail cannot be queued is not kept', async () => {
      const db = t.db.db;
      const csv = ['email', 'ann@example.com', 'bob@example.com', 'cid@example.com', 'dee@example.com'].join('\n');
      const filePath = path.join(mkdtempSync(path.join(os.tmpdir(), 'gazette-import-test-')), 'list.csv');
      writeFileSync(filePath, csv);
      const newsletter = (await findNewsletterById(db, weekly))!;
      const importId = await insertImport(db, { publicId: 'queued', newsletterId: weekly, filename: 'list.csv', mode: 'send_confirmation', tags: '[]', fileSize: csv.length, at: t.clock.now() });
      const queuedIn: boolean[] = [];
      let kicks = 0;
      await runImport(
        {
          db,
          clock: t.clock,
          batchSize: 2,
          mailQueued: () => kicks++,
          sendConfirmation: async (conn, _nl, subscriber) => {
            queuedIn.push(conn.isTransaction);
            if (subscriber.email === 'dee@example.com') throw new Error('the mail outbox refused the row');
            return true;
          },
        },
        { importId, publicId: 'queued', newsletter, mode: 'send_confirmation', tags: [], filePath },
      );
      assert.deepEqual(queuedIn, [true, true, true, true], 'every confirmation is queued inside its batch');
      assert.equal(kicks, 1, 'the outbox is woken after the batch that committed');
      assert.equal((await importRow('queued')).status, 'failed');
      const kept = await db.selectFrom('subscribers').select('email').orderBy('email').execute();
      assert.deepEqual(kept.map((r) => r.email), ['ann@example.com', 'bob@example.com'], 'the second batch went with its mail');
    });

    it('shows progress in a self-polling fragment while running, and marks an orphaned import failed', async () => {
      // An app whose imports wait after their first batch until the test lets them go on.
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let waiting!: () => void;
      const blocked = new Promise<void>((resolve) => (waiting = resolve));
      await t.close();
      t = await buildTestApp(dialect, {
        importBetweenBatches: async () => {
          waiting();
          await gate;
        },
      });
      agent = await setupOwner(t);
      weekly = await firstNewsletterId(t.db.db);
      await agent.get('/admin/subscribers/import');
      const rows = Array.from({ length: 600 }, (_, i) => `slow${i}@example.com`).join('\n');
      const res = await uploadCsv(agent, { newsletter_id: String(weekly), mode: 'send_confirmation' }, { filename: 'slow.csv', content: `email\n${rows}\n` });
      assert.equal(res.statusCode, 303);
      const url = String(res.headers.location);
      await blocked;
      const page = await agent.get(url);
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /<html/);
      assert.match(page.body, /Importing…/);
      assert.match(page.body, new RegExp(`hx-get="${url}" hx-trigger="every 1s" hx-swap="outerHTML"`));
      assert.match(page.body, /500 rows so far/);
      const fragment = await agent.get(url, { 'hx-request': 'true' });
      assert.match(fragment.body, /^<section class="card" id="import-progress"/m);
      assert.doesNotMatch(fragment.body, /<html/);
      release();
      await t.app.imports.idle();
      await t.mailOutbox.idle();
      const done = await agent.get(url, { 'hx-request': 'true' });
      assert.match(done.body, /Import finished/);
      assert.doesNotMatch(done.body, /hx-trigger/);
      assert.equal(t.mailer.sent.length, 600);

      // A row left "running" by a process that is gone (a restart) is reported as interrupted.
      await t.db.db
        .insertInto('imports')
        .values({ public_id: 'orphan', newsletter_id: weekly, filename: 'old.csv', mode: 'confirmed', status: 'running', error: null, created_at: 1, finished_at: null, heartbeat_at: 1 })
        .execute();
      const orphan = await agent.get('/admin/subscribers/import/orphan');
      assert.match(orphan.body, /interrupted/);
      assert.equal((await importRow('orphan')).status, 'failed');
    });

    it('reads Substack, Buttondown and header-less files, semicolons and tabs', async () => {
      const files = [
        ['substack.csv', 'email,active_subscription,expiry,plan,email_disabled,created_at\nsub@example.com,false,,free,false,2024-01-01\n'],
        ['buttondown.csv', 'email,notes,metadata,tags,creation_date\nbd@example.com,"likes cats","{}","a,b",2024-02-02\n'],
        ['bare.csv', 'bare1@example.com\nbare2@example.com\n'],
        ['semicolon.csv', 'Nom;Courriel\nJean;jean@example.com\n'],
        ['tabs.tsv', 'E-mail\tFull Name\ntab@example.com\tTab Person\n'],
      ];
      for (const [filename, csv] of files) {
        const publicId = await upload({ newsletter_id: String(weekly), mode: 'confirmed' }, filename!, csv!);
        const job = await importRow(publicId);
        assert.equal(job.status, 'done', `${filename}: ${job.error}`);
        assert.ok(job.created_count >= 1, filename);
      }
      const byEmail = new Map((await t.db.db.selectFrom('subscribers').select(['email', 'name', 'attributes']).execute()).map((r) => [r.email, r]));
      assert.deepEqual(JSON.parse(byEmail.get('sub@example.com')!.attributes), { active_subscription: 'false', plan: 'free', email_disabled: 'false', created_at: '2024-01-01' });
      assert.deepEqual(JSON.parse(byEmail.get('bd@example.com')!.attributes), { notes: 'likes cats', metadata: '{}', creation_date: '2024-02-02' });
      assert.ok(byEmail.has('bare1@example.com') && byEmail.has('bare2@example.com'));
      assert.equal(byEmail.get('jean@example.com')?.name, 'Jean');
      assert.equal(byEmail.get('tab@example.com')?.name, 'Tab Person');
      const bdTags = await t.db.db
        .selectFrom('subscriber_tags as st')
        .innerJoin('tags as tg', 'tg.id', 'st.tag_id')
        .innerJoin('subscribers as s', 's.id', 'st.subscriber_id')
        .select('tg.name')
        .where('s.email', '=', 'bd@example.com')
        .orderBy('tg.name')
        .execute();
      assert.deepEqual(bdTags.map((r) => r.name), ['a', 'b']);
    });

    it('keeps what was valid in a malformed file and explains, never a 500', async () => {
      const broken = 'email,name\nok1@example.com,One\n"unterminated@example.com,Two\nok2@example.com,Three\n';
      const publicId = await upload({ newsletter_id: String(weekly), mode: 'confirmed' }, 'broken.csv', broken);
      const job = await importRow(publicId);
      assert.ok(job.status === 'done' || job.status === 'failed');
      assert.ok((await count(t.db.db, 'subscribers')) >= 1);
      assert.ok(await t.db.db.selectFrom('subscribers').select('id').where('email', '=', 'ok1@example.com').executeTakeFirst());
      const page = await agent.get(`/admin/subscribers/import/${publicId}`);
      assert.equal(page.statusCode, 200);

      const noEmail = await upload({ newsletter_id: String(weekly), mode: 'confirmed' }, 'names.csv', 'first,last\nAda,Lovelace\n');
      const failed = await importRow(noEmail);
      assert.equal(failed.status, 'failed');
      assert.match(failed.error ?? '', /No column with email addresses/);
      assert.match((await agent.get(`/admin/subscribers/import/${noEmail}`)).body, /No column with email addresses/);

      const binary = await upload({ newsletter_id: String(weekly), mode: 'confirmed' }, 'x.csv', Buffer.from([0, 1, 2, 255, 254, 10, 34, 34, 34, 10]));
      assert.ok(['done', 'failed'].includes((await importRow(binary)).status));
    });

    it('refuses a bad upload form beside the field, and an oversized file with 413', async () => {
      const missing = await uploadCsv(agent, { newsletter_id: String(weekly), mode: 'confirmed' });
      assert.equal(missing.statusCode, 422);
      assert.match(missing.body, /id="f-file-error">Choose a CSV file/);
      const badMode = await uploadCsv(agent, { newsletter_id: String(weekly), mode: 'maybe' }, { filename: 'a.csv', content: 'email\na@example.com\n' });
      assert.equal(badMode.statusCode, 422);
      assert.match(badMode.body, /id="f-mode-error">/);
      const noNewsletter = await uploadCsv(agent, { newsletter_id: '424242', mode: 'confirmed' }, { filename: 'a.csv', content: 'email\na@example.com\n' });
      assert.equal(noNewsletter.statusCode, 422);
      const urlencoded = await agent.post('/admin/subscribers/import', { newsletter_id: String(weekly), mode: 'confirmed' });
      assert.equal(urlencoded.statusCode, 422);
      const noToken = await agent.request('POST', '/admin/subscribers/import', Buffer.from('x'), { 'content-type': 'multipart/form-data; boundary=x', origin: 'http://gazette.test', 'sec-fetch-site': 'same-origin' });
      assert.equal(noToken.statusCode, 403);
      const huge = await uploadCsv(agent, { newsletter_id: String(weekly), mode: 'confirmed' }, { filename: 'big.csv', content: Buffer.alloc(51 * 1024 * 1024, 'a') });
      assert.equal(huge.statusCode, 413);
      assert.match(huge.body, /larger than 50 MB/);
      assert.equal((await t.db.db.selectFrom('imports').selectAll().execute()).length, 0);
      assert.equal((await agent.get('/admin/subscribers/import/nope')).statusCode, 404);
    });
  });
}
