import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { firstNewsletterId, makeNewsletter, makeSubscriber, multipartBody, tagId } from './factories.js';

/** The emails listed on a page, in order. */
function emails(body: string): string[] {
  return [...body.matchAll(/<td><a href="\/admin\/subscribers\/\d+">([^<]+)<\/a><\/td>/g)].map((m) => m[1]!);
}

function nextLink(body: string): string | undefined {
  return /<a href="([^"]+)"[^>]*rel="next"/.exec(body)?.[1]?.replace(/&amp;/g, '&');
}

function prevLink(body: string): string | undefined {
  return /<a href="([^"]+)"[^>]*rel="prev"/.exec(body)?.[1]?.replace(/&amp;/g, '&');
}

for (const dialect of DIALECTS) {
  describe(`subscribers list (${dialect})`, () => {
    let t: TestApp;
    let agent: Agent;
    let weekly: number;
    let daily: number;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      agent = await setupOwner(t);
      weekly = await firstNewsletterId(t.db.db);
      daily = await makeNewsletter(t.db.db, 'daily');
    });
    afterEach(() => t.close());

    it('searches email and name, filters by newsletter, status and tag, and counts per status', async () => {
      const db = t.db.db;
      await makeSubscriber(db, { email: 'ada@lovelace.org', name: 'Ada Lovelace', subscriptions: [{ newsletterId: weekly, status: 'active' }], tags: ['vip'] });
      await makeSubscriber(db, { email: 'alan@turing.org', name: 'Alan Turing', subscriptions: [{ newsletterId: weekly, status: 'pending' }, { newsletterId: daily, status: 'active' }] });
      await makeSubscriber(db, { email: 'grace@hopper.org', name: 'Grace HOPPER', subscriptions: [{ newsletterId: daily, status: 'unsubscribed' }], tags: ['vip'] });
      await makeSubscriber(db, { email: 'percent%_sign@example.com', name: 'Literal', subscriptions: [] });

      const all = await agent.get('/admin/subscribers');
      assert.equal(all.statusCode, 200);
      assert.deepEqual(emails(all.body), ['percent%_sign@example.com', 'grace@hopper.org', 'alan@turing.org', 'ada@lovelace.org']);
      assert.match(all.body, /All <span class="count">4<\/span>/);
      assert.match(all.body, /Active <span class="count">2<\/span>/);
      assert.match(all.body, /Pending <span class="count">1<\/span>/);
      assert.match(all.body, /Unsubscribed <span class="count">1<\/span>/);

      assert.deepEqual(emails((await agent.get('/admin/subscribers?q=hopper')).body), ['grace@hopper.org']);
      const searched = await agent.get('/admin/subscribers?q=.org');
      assert.match(searched.body, /All <span class="count">3<\/span>/);
      assert.match(searched.body, /Active <span class="count">2<\/span>/);
      assert.match(searched.body, /Unsubscribed <span class="count">1<\/span>/);
      assert.deepEqual(emails((await agent.get('/admin/subscribers?q=TURING')).body), ['alan@turing.org']);
      // LIKE wildcards in the search match literally.
      assert.deepEqual(emails((await agent.get('/admin/subscribers?q=%25_')).body), ['percent%_sign@example.com']);

      const weeklyPage = await agent.get(`/admin/subscribers?newsletter=${weekly}`);
      assert.deepEqual(emails(weeklyPage.body), ['alan@turing.org', 'ada@lovelace.org']);
      assert.match(weeklyPage.body, /All <span class="count">2<\/span>/);
      assert.match(weeklyPage.body, /Active <span class="count">1<\/span>/);
      assert.match(weeklyPage.body, /Pending <span class="count">1<\/span>/);

      assert.deepEqual(emails((await agent.get(`/admin/subscribers?newsletter=${daily}&status=active`)).body), ['alan@turing.org']);
      assert.deepEqual(emails((await agent.get('/admin/subscribers?status=unsubscribed')).body), ['grace@hopper.org']);
      const vip = await tagId(db, 'vip');
      assert.deepEqual(emails((await agent.get(`/admin/subscribers?tag=${vip}`)).body), ['grace@hopper.org', 'ada@lovelace.org']);
      assert.deepEqual(emails((await agent.get(`/admin/subscribers?tag=${vip}&status=active`)).body), ['ada@lovelace.org']);
      assert.deepEqual(emails((await agent.get(`/admin/subscribers?sort=email`)).body), [
        'ada@lovelace.org', 'alan@turing.org', 'grace@hopper.org', 'percent%_sign@example.com',
      ]);
      assert.deepEqual(emails((await agent.get(`/admin/subscribers?sort=oldest`)).body), [
        'ada@lovelace.org', 'alan@turing.org', 'grace@hopper.org', 'percent%_sign@example.com',
      ]);
    });

    it('counts exactly on the one-newsletter fast path too, with and without search or tag', async () => {
      const db = t.db.db;
      await db.deleteFrom('newsletters').where('id', '=', daily).execute();
      await makeSubscriber(db, { email: 'one@a.org', subscriptions: [{ newsletterId: weekly, status: 'active' }], tags: ['t'] });
      await makeSubscriber(db, { email: 'two@a.org', subscriptions: [{ newsletterId: weekly, status: 'pending' }] });
      await makeSubscriber(db, { email: 'three@b.org', subscriptions: [{ newsletterId: weekly, status: 'unsubscribed' }], tags: ['t'] });
      await makeSubscriber(db, { email: 'none@a.org', subscriptions: [], tags: ['t'] });
      const tabs = (body: string) =>
        Object.fromEntries([...body.matchAll(/(All|Active|Pending|Unsubscribed) <span class="count">(\d+)<\/span>/g)].map((m) => [m[1], Number(m[2])]));
      const t1 = await tagId(db, 't');
      assert.deepEqual(tabs((await agent.get('/admin/subscribers')).body), { All: 4, Active: 1, Pending: 1, Unsubscribed: 1 });
      assert.deepEqual(tabs((await agent.get('/admin/subscribers?q=a.org')).body), { All: 3, Active: 1, Pending: 1, Unsubscribed: 0 });
      assert.deepEqual(tabs((await agent.get(`/admin/subscribers?tag=${t1}`)).body), { All: 3, Active: 1, Pending: 0, Unsubscribed: 1 });
      assert.deepEqual(tabs((await agent.get(`/admin/subscribers?tag=${t1}&newsletter=${weekly}`)).body), { All: 2, Active: 1, Pending: 0, Unsubscribed: 1 });
      assert.deepEqual(tabs((await agent.get(`/admin/subscribers?q=a.org&newsletter=${weekly}&status=active`)).body), { All: 2, Active: 1, Pending: 1, Unsubscribed: 0 });
      assert.deepEqual(emails((await agent.get(`/admin/subscribers?q=a.org&newsletter=${weekly}&status=active`)).body), ['one@a.org']);
    });

    it('pages with keyset links forwards and backwards under every sort, also when timestamps tie', async () => {
      const db = t.db.db;
      const tie = Date.UTC(2026, 5, 1);
      // 120 subscribers, 60 of them sharing one timestamp (as an import creates them).
      for (let i = 0; i < 120; i++) {
        await makeSubscriber(db, {
          email: `p${String(i).padStart(3, '0')}@example.com`,
          createdAt: i < 60 ? tie : tie + i,
          subscriptions: [{ newsletterId: weekly, status: 'active' }],
        });
      }
      for (const sort of ['newest', 'oldest', 'email']) {
        const seen: string[] = [];
        const pages: string[] = [];
        let url: string | undefined = `/admin/subscribers?sort=${sort}&newsletter=${weekly}`;
        while (url) {
          const res = await agent.get(url);
          assert.equal(res.statusCode, 200, res.body);
          pages.push(url);
          seen.push(...emails(res.body));
          url = nextLink(res.body);
        }
        assert.equal(pages.length, 3, sort);
        assert.equal(seen.length, 120, sort);
        assert.equal(new Set(seen).size, 120, `${sort}: no row twice`);
        if (sort === 'email') assert.deepEqual(seen, [...seen].sort());
        // Back from the last page gives the middle page again.
        const last = await agent.get(pages[2]!);
        const back = prevLink(last.body);
        assert.ok(back);
        assert.deepEqual(emails((await agent.get(back)).body), seen.slice(50, 100), sort);
      }
    });

    it('answers the results fragment to htmx and the whole page otherwise', async () => {
      await makeSubscriber(t.db.db, { email: 'frag@example.com', subscriptions: [{ newsletterId: weekly, status: 'active' }] });
      const fragment = await agent.get('/admin/subscribers?q=frag', { 'hx-request': 'true' });
      assert.equal(fragment.statusCode, 200);
      assert.match(fragment.body, /^<div id="results">/m);
      assert.doesNotMatch(fragment.body, /<html/);
      assert.match(fragment.headers.vary as string, /HX-Request/);
      const full = await agent.get('/admin/subscribers?q=frag');
      assert.match(full.body, /<html/);
      assert.match(full.body, /aria-current="page">Subscribers</);
    });

    it('refuses bad filters and tampered page links with a 4xx', async () => {
      for (const url of ['/admin/subscribers?sort=id;drop', '/admin/subscribers?status=gone', '/admin/subscribers?newsletter=abc', '/admin/subscribers?after=!!!', '/admin/subscribers?sort=email&after=eyJpZCI6MX0']) {
        const res = await agent.get(url);
        assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${url} → ${res.statusCode}`);
      }
    });

    it('refuses every subscribers route to an anonymous request', async () => {
      const id = await makeSubscriber(t.db.db, { email: 'private@example.com', subscriptions: [{ newsletterId: weekly, status: 'active' }] });
      const anon = t.agent();
      const gets = [
        '/admin/subscribers', '/admin/subscribers?q=private', '/admin/subscribers/new', `/admin/subscribers/${id}`,
        '/admin/subscribers/export.csv', '/admin/subscribers/import', '/admin/subscribers/import/abc', '/admin/subscribers/import/abc/problems.csv',
      ];
      for (const url of gets) {
        const res = await anon.get(url);
        assert.equal(res.statusCode, 303, url);
        assert.match(String(res.headers.location), /^\/login\?next=/, url);
        assert.doesNotMatch(res.body, /private@example\.com/);
      }
      const posts = [
        '/admin/subscribers', '/admin/subscribers/bulk', `/admin/subscribers/${id}`, `/admin/subscribers/${id}/attributes`,
        `/admin/subscribers/${id}/tags`, `/admin/subscribers/${id}/tags/1/delete`, `/admin/subscribers/${id}/unsubscribe`, `/admin/subscribers/${id}/delete`,
      ];
      for (const url of posts) {
        const res = await anon.post(url, { email: 'x@example.com', tag: 'x', action: 'tag', scope: 'filter', newsletter_id: 'all' });
        assert.equal(res.statusCode, 401, url);
      }
      const { payload, contentType } = multipartBody({ newsletter_id: String(weekly), mode: 'confirmed' }, { filename: 'a.csv', content: 'email\nz@example.com\n' });
      const upload = await anon.request('POST', '/admin/subscribers/import', payload, { 'content-type': contentType, origin: 'http://gazette.test', 'sec-fetch-site': 'same-origin' });
      assert.equal(upload.statusCode, 401);
      // Nothing changed.
      const row = await t.db.db.selectFrom('subscribers').select(['email']).where('id', '=', id).executeTakeFirst();
      assert.equal(row?.email, 'private@example.com');
      assert.equal((await t.db.db.selectFrom('imports').selectAll().execute()).length, 0);
    });
  });
}
