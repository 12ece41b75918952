import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { firstNewsletterId, makeSubscriber, parseCsv, uploadCsv } from './factories.js';

/** A data row of a generated file: its line in the file and its address. */
interface Row {
  line: number;
  email: string;
}

const addresses = (n: number, prefix = 'user') => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}@example.com`);

/**
 * Each file here once lost rows or values without a word. Every test checks the invariant first: every
 * data row of the file is either subscribed or listed in the problems report with its line, and the
 * counts add up (rows in = imported + reported); then the file's own outcome.
 */
for (const dialect of DIALECTS) {
  describe(`CSV import loses nothing silently (${dialect})`, () => {
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

    const importRow = (publicId: string) => t.db.db.selectFrom('imports').selectAll().where('public_id', '=', publicId).executeTakeFirstOrThrow();

    async function upload(content: string | Buffer, fields: Record<string, string> = {}) {
      const res = await uploadCsv(agent, { newsletter_id: String(weekly), mode: 'confirmed', ...fields }, { filename: 'list.csv', content });
      assert.equal(res.statusCode, 303, res.body.slice(0, 2000));
      await t.app.imports.idle();
      return String(res.headers.location).split('/').pop()!;
    }

    async function report(publicId: string): Promise<{ line: number; email: string; problem: string }[]> {
      const res = await agent.get(`/admin/subscribers/import/${publicId}/problems.csv`);
      assert.equal(res.statusCode, 200);
      return parseCsv(res.body).slice(1).map((r) => ({ line: Number(r[0]), email: r[1]!, problem: r[2]! }));
    }

    async function subscribed(): Promise<Set<string>> {
      const rows = await t.db.db
        .selectFrom('subscriptions as sb')
        .innerJoin('subscribers as s', 's.id', 'sb.subscriber_id')
        .select('s.email')
        .where('sb.newsletter_id', '=', weekly)
        .execute();
      return new Set(rows.map((r) => r.email));
    }

    /** rows in = imported + reported, row by row and in the import's counts. */
    async function assertAccounted(publicId: string, rows: Row[]) {
      const job = await importRow(publicId);
      assert.equal(job.status, 'done', job.error ?? '');
      assert.equal(job.total_rows, rows.length, 'every data row is counted, once');
      const imported = await subscribed();
      const reported = new Set((await report(publicId)).filter((p) => p.line > 0).map((p) => p.line));
      const lost = rows.filter((r) => !imported.has(r.email) && !reported.has(r.line));
      assert.deepEqual(lost.slice(0, 5), [], `${lost.length} rows neither imported nor reported`);
      const notImported = rows.filter((r) => !imported.has(r.email)).length;
      assert.equal(job.skipped_count + job.invalid_count + job.duplicate_count, notImported);
      assert.equal(rows.length, rows.length - notImported + (job.skipped_count + job.invalid_count + job.duplicate_count));
      return job;
    }

    it('imports all 1,000 rows whatever the mix of line endings', async () => {
      const emails = addresses(1000);
      // The heading ends in CRLF, every row in LF.
      const lfRows = `email,name\r\n${emails.map((e, i) => `${e},Name ${i}\n`).join('')}`;
      const first = await upload(lfRows);
      await assertAccounted(first, emails.map((email, i) => ({ line: i + 2, email })));
      assert.equal((await subscribed()).size, 1000);

      // A CRLF file with LF rows inside and an old-Mac CR row: none merges into the row before.
      const more = addresses(300, 'mixed');
      const ends = ['\r\n', '\n', '\r\n', '\r'];
      const mixed = `email,name\r\n${more.map((e, i) => `${e},Mixed ${i}${ends[i % ends.length]}`).join('')}`;
      const second = await upload(mixed);
      await assertAccounted(second, more.map((email, i) => ({ line: i + 2, email })));
      const names = await t.db.db.selectFrom('subscribers').select(['email', 'name']).where('email', 'like', 'mixed%').orderBy('email').execute();
      assert.deepEqual(names.map((r) => r.name), more.map((_, i) => `Mixed ${i}`));
    });

    it('tags all 500 rows tagged "vip", and reports by row the tags past the cap on new tags', async () => {
      const vips = addresses(500, 'vip');
      const others = addresses(150, 'other');
      const lines = [
        'email,tags',
        ...vips.map((e) => `${e},vip`),
        // 150 more distinct tags: "vip" and t0…t98 make the 100 new tags a file may add.
        ...others.map((e, i) => `${e},t${i}`),
      ];
      const publicId = await upload(`${lines.join('\n')}\n`);
      await assertAccounted(publicId, [...vips, ...others].map((email, i) => ({ line: i + 2, email })));
      const tagged = async (tag: string) =>
        Number(
          (
            await t.db.db
              .selectFrom('subscriber_tags as st')
              .innerJoin('tags as tg', 'tg.id', 'st.tag_id')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .where('tg.name', '=', tag)
              .executeTakeFirstOrThrow()
          ).n,
        );
      assert.equal(await tagged('vip'), 500);
      assert.equal(await tagged('t98'), 1);
      assert.equal(await tagged('t99'), 0);
      const cut = (await report(publicId)).filter((p) => /tag/.test(p.problem));
      assert.deepEqual(
        cut.map((p) => p.email),
        others.slice(99),
      );
      assert.match(cut[0]!.problem, /"t99"/);
      // Those rows are still subscribed, only the tag is missing, and the page says so.
      assert.equal((await subscribed()).size, 650);
      const page = await agent.get(`/admin/subscribers/import/${publicId}`);
      assert.match(page.body, /Download the report of 51 notes/);
    });

    it('reports a row over 64 KB once and imports the rows after it', async () => {
      const emails = addresses(20);
      const big = 'x'.repeat(70 * 1024);
      const lines = ['email,name', ...emails.map((e, i) => (i === 5 ? `${e},"${big}"` : i === 6 ? `${e},${big}` : `${e},Name ${i}`))];
      const publicId = await upload(`${lines.join('\r\n')}\r\n`);
      const job = await assertAccounted(publicId, emails.map((email, i) => ({ line: i + 2, email })));
      assert.equal(job.invalid_count, 2);
      const problems = await report(publicId);
      assert.deepEqual(problems.map((p) => [p.line, p.email]), [[7, emails[5]], [8, emails[6]]]);
      assert.match(problems[0]!.problem, /64 KB/);
      assert.equal((await subscribed()).size, 18);
    });

    it('reads Windows-1252 (Latin-1) correctly and says so; UTF-16 and UTF-8 with a BOM too', async () => {
      const latin1 = Buffer.concat([
        Buffer.from('email,name,city,price\r\nrene@example.com,Ren\xe9 M\xfcller,Z\xfcrich,', 'latin1'),
        Buffer.from([0x80]), // € in Windows-1252, where Latin-1 has a control character
        Buffer.from('5\r\nzoe@example.com,Zo\xeb,K\xf8benhavn,\r\n', 'latin1'),
      ]);
      const first = await upload(latin1);
      await assertAccounted(first, [{ line: 2, email: 'rene@example.com' }, { line: 3, email: 'zoe@example.com' }]);
      const rene = await t.db.db.selectFrom('subscribers').selectAll().where('email', '=', 'rene@example.com').executeTakeFirstOrThrow();
      assert.equal(rene.name, 'René Müller');
      assert.deepEqual(JSON.parse(rene.attributes), { city: 'Zürich', price: '€5' });
      const notes = (await report(first)).filter((p) => p.line === 0);
      assert.equal(notes.length, 1);
      assert.match(notes[0]!.problem, /Windows-1252/);
      const page = await agent.get(`/admin/subscribers/import/${first}`);
      assert.match(page.body, /read as Windows-1252/);

      const text = 'email,name\r\nanais@example.com,Anaïs Ñúñez 李\r\n';
      const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
      const second = await upload(utf16);
      await assertAccounted(second, [{ line: 2, email: 'anais@example.com' }]);
      const third = await upload(Buffer.from(`\uFEFF${text.replace('anais', 'anais2')}`, 'utf8'));
      await assertAccounted(third, [{ line: 2, email: 'anais2@example.com' }]);
      const names = await t.db.db.selectFrom('subscribers').select('name').where('email', 'like', 'anais%').execute();
      assert.deepEqual(names.map((r) => r.name), ['Anaïs Ñúñez 李', 'Anaïs Ñúñez 李']);
      assert.deepEqual(await report(second), []);
      assert.deepEqual(await report(third), []);
    });

    it('reports every column it does not keep, by name', async () => {
      const headings = ['email', ...Array.from({ length: 999 }, (_, i) => `c${i + 1}`)];
      const emails = addresses(3);
      const lines = [headings.join(','), ...emails.map((e) => [e, ...headings.slice(1).map((h) => `v-${h}`)].join(','))];
      const publicId = await upload(`${lines.join('\n')}\n`);
      await assertAccounted(publicId, emails.map((email, i) => ({ line: i + 2, email })));
      const row = await t.db.db.selectFrom('subscribers').select('attributes').where('email', '=', emails[0]!).executeTakeFirstOrThrow();
      const kept = Object.keys(JSON.parse(row.attributes) as object);
      const notes = (await report(publicId)).filter((p) => p.line === 0);
      const dropped = headings.slice(1).filter((h) => !kept.includes(h));
      assert.equal(kept.length + dropped.length, 999);
      assert.equal(notes.length, dropped.length);
      for (const [i, h] of dropped.entries()) assert.match(notes[i]!.problem, new RegExp(`"${h}"`));
      if (dropped.length > 0) {
        const page = await agent.get(`/admin/subscribers/import/${publicId}`);
        assert.match(page.body, new RegExp(`Download the report of ${dropped.length} notes`));
        assert.match(page.body, /… and 944 more in the report/);
      }
    });

    it('keeps attributes named like Object.prototype members', async () => {
      const keys = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];
      await makeSubscriber(t.db.db, { email: 'old@example.com', name: 'Old', attributes: { city: 'Lyon' }, subscriptions: [{ newsletterId: weekly, status: 'active' }] });
      const csv = [`email,${keys.join(',')}`, `new@example.com,${keys.map((k) => `${k}-new`).join(',')}`, `old@example.com,${keys.map((k) => `${k}-old`).join(',')}`].join('\n');
      const publicId = await upload(csv);
      await assertAccounted(publicId, [{ line: 2, email: 'new@example.com' }, { line: 3, email: 'old@example.com' }]);
      assert.deepEqual(await report(publicId), []);
      const attributes = async (email: string) => {
        const row = await t.db.db.selectFrom('subscribers').select('attributes').where('email', '=', email).executeTakeFirstOrThrow();
        return Object.entries(JSON.parse(row.attributes) as object).sort();
      };
      assert.deepEqual(await attributes('new@example.com'), keys.map((k) => [k, `${k}-new`]).sort());
      assert.deepEqual(await attributes('old@example.com'), [['city', 'Lyon'], ...keys.map((k) => [k, `${k}-old`])].sort());
      assert.equal((await importRow(publicId)).updated_count, 1);
    });

    it('saves the same names from the subscriber page, not refused as used twice', async () => {
      const id = await makeSubscriber(t.db.db, { email: 'form@example.com', attributes: { toString: 'kept' } });
      const keys = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];
      const res = await agent.post(`/admin/subscribers/${id}/attributes`, { key: keys, value: ['a', 'b', 'kept', 'd'] });
      assert.equal(res.statusCode, 303, res.body.slice(0, 500));
      const row = await t.db.db.selectFrom('subscribers').select('attributes').where('id', '=', id).executeTakeFirstOrThrow();
      assert.deepEqual(Object.entries(JSON.parse(row.attributes) as object).sort(), [['__proto__', 'b'], ['constructor', 'a'], ['hasOwnProperty', 'd'], ['toString', 'kept']]);
    });
  });
}
