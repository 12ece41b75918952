import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { makePost } from '../posts/factories.js';

const FORM = { name: 'Weekly Notes', slug: 'weekly', description: '', from_name: 'Olive', from_email: 'news@example.com', reply_to: '', postal_address: '1 Main St', time_zone: 'UTC', double_opt_in: 'on', archive_public: 'on' };
const BASE = 'http://gazette.test';

for (const dialect of DIALECTS) {
  describe(`a renamed newsletter keeps its old addresses (${dialect})`, () => {
    let t: TestApp;
    let admin: Agent;
    let id: number;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      admin = await setupOwner(t);
      assert.equal((await admin.post('/admin/newsletters', FORM)).statusCode, 303);
      id = (await t.db.db.selectFrom('newsletters').select('id').where('slug', '=', 'weekly').executeTakeFirstOrThrow()).id;
      await makePost(t, id, { slug: 'first-issue', subject: 'First issue', status: 'sent', sent_at: t.clock.now(), started_at: t.clock.now() });
    });
    afterEach(() => t.close());

    const rename = (slug: string, newsletterId = id) => admin.post(`/admin/newsletters/${newsletterId}`, { ...FORM, slug });
    const aliases = () => t.db.db.selectFrom('newsletter_slug_aliases').select(['slug', 'newsletter_id']).orderBy('slug').execute();

    it('redirects GETs of the old slug to the same page under the new one (301, query kept)', async () => {
      assert.equal((await rename('notes')).statusCode, 303);
      assert.deepEqual(await aliases(), [{ slug: 'weekly', newsletter_id: id }]);

      const anon = t.agent();
      const home = await anon.get('/n/weekly?ref=blog&x=%C3%A9');
      assert.equal(home.statusCode, 301);
      assert.equal(home.headers.location, `${BASE}/n/notes?ref=blog&x=%C3%A9`);
      // Never cached for good: the newsletter may take the old slug back.
      assert.match(String(home.headers['cache-control']), /^(no-store|public, max-age=3600)$/);
      const archive = await anon.get('/n/weekly/archive/first-issue?utm_source=mail');
      assert.equal(archive.statusCode, 301);
      assert.equal(archive.headers.location, `${BASE}/n/notes/archive/first-issue?utm_source=mail`);
      assert.equal(archive.headers['cache-control'], 'public, max-age=3600');
      const feed = await anon.get('/n/weekly/feed.xml');
      assert.equal(feed.statusCode, 301);
      assert.equal(feed.headers.location, `${BASE}/n/notes/feed.xml`);

      // The new addresses answer themselves; addresses that never existed still 404.
      assert.equal((await anon.get('/n/notes')).statusCode, 200);
      assert.equal((await anon.get('/n/notes/archive/first-issue')).statusCode, 200);
      assert.match((await anon.get('/n/notes/feed.xml')).body, /<link>http:\/\/gazette\.test\/n\/notes<\/link>/);
      assert.equal((await anon.get('/n/never')).statusCode, 404);
      assert.equal((await anon.get('/n/never/feed.xml')).statusCode, 404);
      assert.equal((await anon.get('/n/weekly/archive/no-such-post')).statusCode, 301, 'the new address answers for the post');
      assert.equal((await anon.get('/n/notes/archive/no-such-post')).statusCode, 404);
    });

    it('subscribes through the old slug in place, from an embedded form and as JSON', async () => {
      await rename('notes');
      const embed = await t.app.inject({
        method: 'POST',
        url: '/n/weekly/subscribe',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://someones-blog.example', 'sec-fetch-site': 'cross-site' },
        payload: 'email=embed%40example.com&source=embed&website=',
      });
      assert.equal(embed.statusCode, 200);
      assert.match(embed.body, /Check your inbox/);
      const json = await t.app.inject({
        method: 'POST',
        url: '/n/weekly/subscribe',
        headers: { accept: 'application/json', 'content-type': 'application/json' },
        payload: { email: 'api@example.com' },
      });
      assert.equal(json.statusCode, 200);
      assert.equal(json.json().status, 'pending');
      const rows = await t.db.db
        .selectFrom('subscriptions as sn')
        .innerJoin('subscribers as s', 's.id', 'sn.subscriber_id')
        .select(['s.email', 'sn.newsletter_id', 'sn.source'])
        .orderBy('s.email')
        .execute();
      assert.deepEqual(rows, [
        { email: 'api@example.com', newsletter_id: id, source: 'api' },
        { email: 'embed@example.com', newsletter_id: id, source: 'embed' },
      ]);
      const nowhere = await t.app.inject({ method: 'POST', url: '/n/never/subscribe', headers: { 'content-type': 'application/json' }, payload: { email: 'x@example.com' } });
      assert.equal(nowhere.statusCode, 404);
    });

    it('keeps an old slug from another newsletter, and lets its own newsletter take it back', async () => {
      await rename('notes');
      const taken = await admin.post('/admin/newsletters', { ...FORM, name: 'Daily', slug: 'weekly' });
      assert.equal(taken.statusCode, 422);
      assert.match(taken.body, /id="f-slug-error">Weekly Notes used this address before it was renamed, and its old links and forms still lead there\./);
      const other = (await t.db.db.selectFrom('newsletters').select('id').where('slug', '=', 'newsletter').executeTakeFirstOrThrow()).id;
      const renamedOnto = await rename('weekly', other);
      assert.equal(renamedOnto.statusCode, 422);
      assert.match(renamedOnto.body, /id="f-slug-error">Weekly Notes used this address/);
      assert.equal((await t.db.db.selectFrom('newsletters').select('slug').where('id', '=', other).executeTakeFirstOrThrow()).slug, 'newsletter');
      assert.deepEqual(await aliases(), [{ slug: 'weekly', newsletter_id: id }], 'a refused rename writes no alias');

      // Renamed twice: both old slugs lead straight to the current one.
      await rename('letters');
      assert.deepEqual(await aliases(), [
        { slug: 'notes', newsletter_id: id },
        { slug: 'weekly', newsletter_id: id },
      ]);
      assert.equal((await t.agent().get('/n/weekly')).headers.location, `${BASE}/n/letters`);
      assert.equal((await t.agent().get('/n/notes')).headers.location, `${BASE}/n/letters`);

      // Back to the first slug: it is current again, and the others lead to it.
      assert.equal((await rename('weekly')).statusCode, 303);
      assert.deepEqual(await aliases(), [
        { slug: 'letters', newsletter_id: id },
        { slug: 'notes', newsletter_id: id },
      ]);
      assert.equal((await t.agent().get('/n/weekly')).statusCode, 200);
      assert.equal((await t.agent().get('/n/letters')).headers.location, `${BASE}/n/weekly`);

      // Saving without changing the slug adds nothing.
      assert.equal((await rename('weekly')).statusCode, 303);
      assert.equal((await aliases()).length, 2);
    });

    it('lists the old addresses on the edit page and stops one only when the owner says so', async () => {
      await rename('notes');
      const page = await admin.get(`/admin/newsletters/${id}`);
      assert.match(page.body, /<h2>Old addresses<\/h2>/);
      assert.match(page.body, /action="\/admin\/newsletters\/\d+\/old-addresses\/weekly\/delete"[^>]*>\s*<input type="hidden" name="_csrf"[^>]*>\s*<code>http:\/\/gazette\.test\/n\/weekly<\/code>/);

      // Another newsletter's id does not reach this newsletter's old slug; a non-slug is a 404.
      const other = (await t.db.db.selectFrom('newsletters').select('id').where('slug', '=', 'newsletter').executeTakeFirstOrThrow()).id;
      assert.equal((await admin.post(`/admin/newsletters/${other}/old-addresses/weekly/delete`)).statusCode, 303);
      assert.deepEqual(await aliases(), [{ slug: 'weekly', newsletter_id: id }]);
      assert.equal((await admin.post(`/admin/newsletters/${id}/old-addresses/Not%20a%20slug/delete`)).statusCode, 404);
      assert.equal((await t.app.inject({ method: 'POST', url: `/admin/newsletters/${id}/old-addresses/weekly/delete` })).statusCode, 401);

      assert.equal((await admin.post(`/admin/newsletters/${id}/old-addresses/weekly/delete`)).statusCode, 303);
      assert.deepEqual(await aliases(), []);
      assert.equal((await t.agent().get('/n/weekly')).statusCode, 404);
      assert.doesNotMatch((await admin.get(`/admin/newsletters/${id}`)).body, /Old addresses/);
      assert.equal((await admin.post('/admin/newsletters', { ...FORM, name: 'Daily', slug: 'weekly' })).statusCode, 303, 'the slug is free again');
    });
  });
}
