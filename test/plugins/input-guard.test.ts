import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, OWNER, setupOwner, TEST_BASE_URL, type Agent, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';
import { makeNewsletter, makePost, makeSubscriber, makeTag } from '../features/posts/factories.js';

/**
 * Bad input is refused at the edge, before it can reach SQL or a header: NUL bytes anywhere (Postgres
 * refuses them in text), ids beyond the integer columns' range, session cookies that are not ours.
 */
for (const dialect of DIALECTS) {
  describe(`input refused at the edge (${dialect})`, () => {
    let t: TestApp;
    let owner: Agent;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      owner = await setupOwner(t);
    });
    afterEach(() => t.close());

    const json = { accept: 'application/json' };
    const sameSite = { origin: TEST_BASE_URL, 'sec-fetch-site': 'same-origin' };
    const count = async (table: 'subscribers' | 'sessions' | 'subscriber_tags') =>
      Number((await t.db.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);

    it('answers NUL bytes in path parameters and queries with a 400 naming the field, on public pages too', async () => {
      const n = await makeNewsletter(t);
      const subscriber = await makeSubscriber(t, n.id);
      const { token } = await t.db.db.selectFrom('subscribers').select('token').where('id', '=', subscriber).executeTakeFirstOrThrow();
      for (const url of ['/n/%00', `/n/${n.slug}%00/feed.xml`, `/unsubscribe/${token}%00`, `/preferences/${token}%00`, `/confirm/x%00y`]) {
        const res = await t.agent().get(url);
        assert.equal(res.statusCode, 400, url);
        assert.match(res.body, /cannot be part of a link/, url);
      }
      const res = await t.agent().get('/n/a%00b', json);
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json().error.fields, { slug: 'Remove the control characters (such as NUL bytes) from this value.' });
      const query = await owner.get('/admin/subscribers?q=a%00b', json);
      assert.equal(query.statusCode, 400);
      assert.deepEqual(Object.keys(query.json().error.fields), ['q']);
      // The one-click unsubscribe, posted with a NUL in its token, changes nothing.
      const oneClick = await t.agent().request('POST', `/unsubscribe/${token}%00`, 'List-Unsubscribe=One-Click', { 'content-type': 'application/x-www-form-urlencoded' });
      assert.equal(oneClick.statusCode, 400);
    });

    it('answers NUL bytes in form and JSON bodies with a 400 and stores nothing', async () => {
      const n = await makeNewsletter(t, { double_opt_in: 0 });
      const login = await t.agent().request('POST', '/login', JSON.stringify({ email: `${OWNER.email}\u0000`, password: OWNER.password }), {
        'content-type': 'application/json',
        ...sameSite,
        ...json,
      });
      assert.equal(login.statusCode, 400);
      assert.deepEqual(Object.keys(login.json().error.fields), ['email']);

      const subscribersBefore = await count('subscribers');
      const subscribe = await t.agent().request('POST', `/n/${n.slug}/subscribe`, JSON.stringify({ email: 'reader@example.com', name: 'Rita\u0000' }), {
        'content-type': 'application/json',
      });
      assert.equal(subscribe.statusCode, 400);
      assert.deepEqual(Object.keys(subscribe.json().error.fields), ['name']);
      assert.equal(await count('subscribers'), subscribersBefore);

      const post = await makePost(t, n.id);
      const before = await t.db.db.selectFrom('posts').select(['body', 'updated_at']).where('id', '=', post).executeTakeFirstOrThrow();
      const save = await owner.post(`/admin/posts/${post}/edit`, { subject: 'Hello', body: 'Body with a \u0000 inside' });
      assert.equal(save.statusCode, 400);
      assert.match(save.body, /<strong>body<\/strong>: Remove the control characters/);
      assert.deepEqual(await t.db.db.selectFrom('posts').select(['body', 'updated_at']).where('id', '=', post).executeTakeFirstOrThrow(), before);

      const sub = await makeSubscriber(t, n.id);
      const tag = await owner.post(`/admin/subscribers/${sub}/tags`, { tag: 'vip\u0000' });
      assert.equal(tag.statusCode, 400);
      assert.equal(await count('subscriber_tags'), 0);
      // A field's name counts too, and nesting in JSON is followed.
      const named = await owner.request('POST', `/admin/subscribers/${sub}/tags`, JSON.stringify({ tag: 'vip', extra: { 'a\u0000': 'x' } }), {
        'content-type': 'application/json',
        'x-csrf-token': owner.csrfToken!,
        ...sameSite,
        ...json,
      });
      assert.equal(named.statusCode, 400);
      assert.deepEqual(Object.keys(named.json().error.fields), ['extra.a\u0000']);
    });

    it('keeps tabs and line breaks, which textareas send', async () => {
      const n = await makeNewsletter(t);
      const post = await makePost(t, n.id);
      const save = await owner.post(`/admin/posts/${post}/edit`, { subject: 'Hello', body: 'one\ttwo\r\nthree' });
      assert.equal(save.statusCode, 303);
      const row = await t.db.db.selectFrom('posts').select('body').where('id', '=', post).executeTakeFirstOrThrow();
      assert.equal(row.body, 'one\ttwo\nthree');
    });

    it('gives ids beyond the integer columns a 404 like unknown ids, and form ids a message beside the field', async () => {
      const n = await makeNewsletter(t);
      const post = await makePost(t, n.id);
      const sub = await makeSubscriber(t, n.id);
      const tag = await makeTag(t, 'vip');
      for (const id of ['2147483648', '99999999999', '0', '007', '-1', '1e3', '12abc']) {
        for (const url of [`/admin/posts/${id}`, `/admin/posts/${id}/edit`, `/admin/posts/${id}/sending`, `/admin/newsletters/${id}`, `/admin/subscribers/${id}`, `/admin/outbox/${id}`]) {
          const res = await owner.get(url);
          assert.equal(res.statusCode, 404, url);
          assert.match(res.body, /does not exist|no subscriber with that number|not in the outbox/, url);
        }
        assert.equal((await owner.post(`/admin/posts/${id}/sending/pause`)).statusCode, 404, `pause ${id}`);
        assert.equal((await owner.post(`/admin/subscribers/${id}/delete`)).statusCode, 404, `delete ${id}`);
      }
      // The largest id is still an id: unknown, so 404, but it reaches the lookup.
      assert.equal((await owner.get('/admin/posts/2147483647')).statusCode, 404);

      const filter = await owner.get('/admin/subscribers?newsletter=2147483648');
      assert.equal(filter.statusCode, 422);
      assert.match(filter.body, /Choose a newsletter from the list/);
      assert.equal((await owner.get('/admin/posts?newsletter=99999999999')).statusCode, 200);
      assert.equal((await owner.get('/admin/outbox?before=99999999999')).statusCode, 200);

      const add = await owner.post('/admin/subscribers', { email: 'new@example.com', newsletter_id: '2147483648', status: 'active' });
      assert.equal(add.statusCode, 422);
      assert.match(add.body, /Choose a newsletter\./);
      const audience = await owner.post(`/admin/posts/${post}/audience`, { include_tags: ['2147483648', String(tag)] });
      assert.equal(audience.statusCode, 422);
      const bulk = await owner.post('/admin/subscribers/bulk', { action: 'tag', tag_name: 'vip', scope: 'selected', ids: [String(sub), '4294967296'] });
      assert.equal(bulk.statusCode, 422);
      assert.equal(await count('subscriber_tags'), 0);
      const untag = await owner.post(`/admin/subscribers/${sub}/tags/2147483648/delete`);
      assert.equal(untag.statusCode, 303);

      // A list cursor is ours but travels through the browser: a forged one with a huge id is refused.
      const cursor = Buffer.from(JSON.stringify({ created_at: 1, id: 99_999_999_999 })).toString('base64url');
      assert.equal((await owner.get(`/admin/subscribers?after=${cursor}`)).statusCode, 422);

      const { token } = await t.db.db.selectFrom('subscribers').select('token').where('id', '=', sub).executeTakeFirstOrThrow();
      const prefs = await t.agent().post(`/preferences/${token}`, { name: 'Rita', newsletters: ['2147483648'] });
      assert.equal(prefs.statusCode, 422);
    });

    it('ignores a session cookie that is not one of ours instead of looking it up', async () => {
      for (const cookie of ['%00.%00', 'a%00b.c', 'x.y%00', '%ED%A0%80.x']) {
        const page = await t.agent().get('/admin', { cookie: `gazette_session=${cookie}` });
        assert.equal(page.statusCode, 303, cookie);
        assert.equal(page.headers.location, '/login?next=%2Fadmin');
        assert.equal((await t.agent().get('/', { cookie: `gazette_session=${cookie}` })).statusCode, 200, cookie);
      }
      assert.equal(await count('sessions'), 1);
    });
  });
}
