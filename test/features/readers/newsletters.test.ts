import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';

const VALID = { name: 'Weekly Notes', slug: 'weekly', description: 'Every Friday.', from_name: 'Olive', from_email: 'News@Example.com', reply_to: '', postal_address: '1 Main St', time_zone: 'Europe/Paris', double_opt_in: 'on', archive_public: 'on' };

for (const dialect of DIALECTS) {
  describe(`newsletters admin (${dialect})`, () => {
    let t: TestApp;
    let admin: Agent;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      admin = await setupOwner(t);
    });
    afterEach(() => t.close());

    it('lists the first newsletter setup created, as the default', async () => {
      const res = await admin.get('/admin/newsletters');
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /Olive Owner&#39;s newsletter|Olive Owner's newsletter/);
      assert.match(res.body, /\(default\)/);
      const row = await t.db.db.selectFrom('newsletters').selectAll().executeTakeFirstOrThrow();
      assert.equal(row.slug, 'newsletter');
      assert.equal(row.double_opt_in, 1);
      assert.equal(row.default_lock, 1);
    });

    it('creates and edits a newsletter, and shows the embeddable form', async () => {
      await admin.get('/admin/newsletters/new');
      const created = await admin.post('/admin/newsletters', VALID);
      assert.equal(created.statusCode, 303);
      const row = await t.db.db.selectFrom('newsletters').selectAll().where('slug', '=', 'weekly').executeTakeFirstOrThrow();
      assert.equal(row.from_email, 'news@example.com');
      assert.equal(row.time_zone, 'Europe/Paris');
      assert.equal(row.default_lock, null);
      const page = await admin.get(String(created.headers.location));
      assert.match(page.body, /Saved\./);
      assert.match(page.body, /&lt;form method=&quot;post&quot; action=&quot;http:\/\/gazette.test\/n\/weekly\/subscribe&quot;/);

      const edited = await admin.post(`/admin/newsletters/${row.id}`, { ...VALID, name: 'Weekly', double_opt_in: '', is_default: 'on' });
      assert.equal(edited.statusCode, 303);
      const after = await t.db.db.selectFrom('newsletters').selectAll().orderBy('id').execute();
      assert.equal(after[1]!.name, 'Weekly');
      assert.equal(after[1]!.double_opt_in, 0);
      assert.deepEqual(after.map((n) => n.default_lock), [null, 1], 'exactly one default');
      const home = await t.agent().get('/');
      assert.match(home.body, /<h1>Weekly<\/h1>/);
    });

    it('validates slug format and uniqueness and email addresses (422, messages beside fields, nothing saved)', async () => {
      await admin.get('/admin/newsletters/new');
      const bad = await admin.post('/admin/newsletters', { ...VALID, slug: 'Not OK!', from_email: 'nope', reply_to: 'also nope', time_zone: 'Mars/Olympus' });
      assert.equal(bad.statusCode, 422);
      assert.match(bad.body, /id="f-slug-error">Use 1–50 lowercase letters/);
      assert.match(bad.body, /id="f-from_email-error">Enter a valid email address/);
      assert.match(bad.body, /id="f-reply_to-error">Enter a valid email address/);
      assert.match(bad.body, /id="f-time_zone-error">/);
      const taken = await admin.post('/admin/newsletters', { ...VALID, slug: 'newsletter' });
      assert.equal(taken.statusCode, 422);
      assert.match(taken.body, /already uses this address/);
      assert.equal((await t.db.db.selectFrom('newsletters').selectAll().execute()).length, 1);
      assert.equal((await admin.get('/admin/newsletters/999')).statusCode, 404);
      assert.equal((await admin.get('/admin/newsletters/abc')).statusCode, 404);
    });

    it('refuses anonymous requests to every newsletter admin route', async () => {
      const anon = t.agent();
      for (const url of ['/admin/newsletters', '/admin/newsletters/new', '/admin/newsletters/1']) {
        const res = await anon.get(url);
        assert.equal(res.statusCode, 303, url);
        assert.match(String(res.headers.location), /^\/login\?next=/);
      }
      for (const url of ['/admin/newsletters', '/admin/newsletters/1']) {
        const res = await t.app.inject({ method: 'POST', url, payload: VALID });
        assert.equal(res.statusCode, 401, url);
      }
      assert.equal((await t.db.db.selectFrom('newsletters').selectAll().execute()).length, 1);
    });

    it('public pages: unknown newsletter is a 404 page; the archive list is hidden when the archive is off', async () => {
      assert.equal((await t.agent().get('/n/does-not-exist')).statusCode, 404);
      const n = await t.db.db.selectFrom('newsletters').selectAll().executeTakeFirstOrThrow();
      await t.db.db.insertInto('posts').values({ newsletter_id: n.id, slug: 'hello', subject: 'Hello world', status: 'sent', sent_at: t.clock.now(), created_at: 1, updated_at: 1 }).execute();
      assert.match((await t.agent().get('/n/newsletter')).body, /Hello world/);
      await t.db.db.updateTable('newsletters').set({ archive_public: 0 }).execute();
      const hidden = await t.agent().get('/n/newsletter');
      assert.doesNotMatch(hidden.body, /Hello world/);
      assert.match(hidden.body, /Subscribe/);
    });
  });
}
