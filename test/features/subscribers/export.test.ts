import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { csvCell, csvLine } from '../../../src/features/subscribers/csv.js';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { firstNewsletterId, makeSubscriber, parseCsv, tagId } from './factories.js';

describe('CSV cells', () => {
  it('neutralises formulas and quotes per RFC 4180', () => {
    assert.equal(csvCell('=HYPERLINK("http://x")'), `"'=HYPERLINK(""http://x"")"`);
    for (const lead of ['=', '+', '-', '@', '\t', '\r']) assert.equal(csvCell(`${lead}1`).replace(/^"/, '').charAt(0), "'", JSON.stringify(lead));
    assert.equal(csvCell('plain'), 'plain');
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell('two\nlines'), '"two\nlines"');
    assert.equal(csvCell(null), '');
    assert.equal(csvCell(42), '42');
    assert.equal(csvLine(['a', 'b']), 'a,b\r\n');
  });
});

for (const dialect of DIALECTS) {
  describe(`subscribers export (${dialect})`, () => {
    let t: TestApp;
    let agent: Agent;
    let weekly: number;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      agent = await setupOwner(t);
      weekly = await firstNewsletterId(t.db.db);
    });
    afterEach(() => t.close());

    it('streams the filtered subscribers as spreadsheet-safe CSV', async () => {
      await makeSubscriber(t.db.db, {
        email: 'evil@example.com',
        name: '=HYPERLINK("http://x","click")',
        attributes: { note: '@SUM(1+1)', city: 'Paris, France', bio: 'line one\nline "two"' },
        subscriptions: [{ newsletterId: weekly, status: 'active' }],
        tags: ['-minus', 'vip'],
      });
      await makeSubscriber(t.db.db, { email: 'plain@example.com', name: 'Plain, Person', subscriptions: [{ newsletterId: weekly, status: 'unsubscribed' }] });
      const res = await agent.get('/admin/subscribers/export.csv');
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/csv; charset=utf-8/);
      assert.match(String(res.headers['content-disposition']), /^attachment; filename="subscribers-2026-11-22\.csv"/);
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.ok(res.body.startsWith('\uFEFFemail,name,subscriptions,tags,attributes,source,created_at\r\n'));
      assert.match(res.body, /"'=HYPERLINK\(""http:\/\/x"",""click""\)"/);
      const rows = parseCsv(res.body);
      assert.equal(rows.length, 3);
      const evil = rows.find((r) => r[0] === 'evil@example.com')!;
      assert.equal(evil[1], `'=HYPERLINK("http://x","click")`);
      assert.match(evil[2]!, /: active$/);
      assert.equal(evil[3], "'-minus, vip");
      assert.deepEqual(JSON.parse(evil[4]!), { note: '@SUM(1+1)', city: 'Paris, France', bio: 'line one\nline "two"' });
      const plain = rows.find((r) => r[0] === 'plain@example.com')!;
      assert.equal(plain[1], 'Plain, Person');
      assert.match(plain[2]!, /: unsubscribed$/);
      assert.match(plain[6]!, /^\d{4}-\d{2}-\d{2}T/);

      const onlyActive = parseCsv((await agent.get(`/admin/subscribers/export.csv?newsletter=${weekly}&status=active`)).body);
      assert.deepEqual(onlyActive.slice(1).map((r) => r[0]), ['evil@example.com']);
      const byTag = parseCsv((await agent.get(`/admin/subscribers/export.csv?tag=${await tagId(t.db.db, 'vip')}`)).body);
      assert.deepEqual(byTag.slice(1).map((r) => r[0]), ['evil@example.com']);
      assert.equal((await agent.get('/admin/subscribers/export.csv?sort=drop')).statusCode, 422);
    });

    it('exports more rows than one page, each exactly once, in the chosen order', async () => {
      const values = Array.from({ length: 2_345 }, (_, i) => ({
        email: `bulk${String(i).padStart(4, '0')}@example.com`, email_hash: `h${i}`, token: `tok${i}`, created_at: 1_000 + (i % 7), updated_at: 1,
      }));
      for (let i = 0; i < values.length; i += 500) await t.db.db.insertInto('subscribers').values(values.slice(i, i + 500)).execute();
      const rows = parseCsv((await agent.get('/admin/subscribers/export.csv?sort=email')).body).slice(1);
      assert.equal(rows.length, 2_345);
      const emails = rows.map((r) => r[0]!);
      assert.deepEqual(emails, [...emails].sort());
      const newest = parseCsv((await agent.get('/admin/subscribers/export.csv')).body).slice(1);
      assert.equal(new Set(newest.map((r) => r[0])).size, 2_345);
    });
  });
}
