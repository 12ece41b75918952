import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { lastConfirmPath, subscribeViaForm, subscriptionOf } from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`unsubscribe and preferences (${dialect})`, () => {
    let t: TestApp;
    let token: string;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      await setupOwner(t);
      await subscribeViaForm(t, 'newsletter', { email: 'reader@example.com', name: 'Rita' });
      await t.agent().request('POST', lastConfirmPath(t), '', { 'content-type': 'application/x-www-form-urlencoded' });
      token = (await subscriptionOf(t, 'reader@example.com'))!.token;
      assert.equal((await subscriptionOf(t, 'reader@example.com'))?.status, 'active');
    });
    afterEach(() => t.close());

    it('GET and HEAD show a page with a button and change nothing (link scanners)', async () => {
      const get = await t.app.inject({ method: 'GET', url: `/unsubscribe/${token}`, headers: { 'user-agent': 'LinkScanner/1.0' } });
      assert.equal(get.statusCode, 200);
      assert.match(get.body, /<form method="post" action="\/unsubscribe\//);
      assert.match(get.body, /Manage your preferences instead/);
      assert.equal(get.headers['referrer-policy'], 'no-referrer');
      await t.app.inject({ method: 'HEAD', url: `/unsubscribe/${token}` });
      assert.equal((await subscriptionOf(t, 'reader@example.com'))?.status, 'active');
    });

    for (const [label, headers, payload] of [
      ['an empty body', {}, undefined],
      ['the RFC 8058 form body', { 'content-type': 'application/x-www-form-urlencoded' }, 'List-Unsubscribe=One-Click'],
      ['a multipart body', { 'content-type': 'multipart/form-data; boundary=XyZ' }, '--XyZ\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--XyZ--\r\n'],
      ['an empty JSON body', { 'content-type': 'application/json' }, ''],
    ] as const) {
      it(`one-click POST with ${label}: 200, short body, no redirect, no cookie needed, immediate`, async () => {
        const res = await t.app.inject({ method: 'POST', url: `/unsubscribe/${token}`, headers: { ...headers, origin: 'https://mail.example', 'sec-fetch-site': 'cross-site' }, payload });
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers.location, undefined);
        assert.ok(res.body.length < 200);
        assert.match(res.body, /unsubscribed/);
        const sub = await subscriptionOf(t, 'reader@example.com');
        assert.equal(sub?.status, 'unsubscribed');
        assert.equal(sub?.unsubscribed_at, t.clock.now());
        const again = await t.app.inject({ method: 'POST', url: `/unsubscribe/${token}`, headers, payload });
        assert.equal(again.statusCode, 200, 'idempotent');
        const events = await t.db.db.selectFrom('events').select('type').where('type', '=', 'unsubscribed').execute();
        assert.equal(events.length, 1);
      });
    }

    it('the page button (a browser form) shows a full page, and an unknown token is a 404', async () => {
      const res = await t.app.inject({ method: 'POST', url: `/unsubscribe/${token}`, headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' }, payload: '' });
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /You have been unsubscribed/);
      assert.equal((await subscriptionOf(t, 'reader@example.com'))?.status, 'unsubscribed');
      const unknown = await t.app.inject({ method: 'POST', url: '/unsubscribe/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', payload: '' });
      assert.equal(unknown.statusCode, 404);
      assert.equal((await t.agent().get('/unsubscribe/short')).statusCode, 404);
    });

    it('?n= unsubscribes from one newsletter only', async () => {
      const admin = t.agent();
      await admin.post('/login', { email: 'olive@example.com', password: 'a long enough passphrase' });
      await admin.get('/admin/newsletters/new');
      await admin.post('/admin/newsletters', { name: 'Weekly', slug: 'weekly', from_email: 'weekly@example.com', time_zone: 'UTC', archive_public: 'on' });
      const prefs = t.agent();
      await prefs.get(`/preferences/${token}`);
      const weeklyId = (await t.db.db.selectFrom('newsletters').select('id').where('slug', '=', 'weekly').executeTakeFirstOrThrow()).id;
      const defaultId = (await t.db.db.selectFrom('newsletters').select('id').where('slug', '=', 'newsletter').executeTakeFirstOrThrow()).id;
      await prefs.post(`/preferences/${token}`, { name: 'Rita', newsletters: [String(defaultId), String(weeklyId)] });
      await t.app.inject({ method: 'POST', url: `/unsubscribe/${token}?n=weekly`, payload: '' });
      const rows = await t.db.db.selectFrom('subscriptions').select(['newsletter_id', 'status']).orderBy('newsletter_id').execute();
      assert.deepEqual(rows, [
        { newsletter_id: defaultId, status: 'active' },
        { newsletter_id: weeklyId, status: 'unsubscribed' },
      ]);
    });

    it('preferences: change name (cleaned), leave and rejoin, unsubscribe from everything', async () => {
      const agent = t.agent();
      const page = await agent.get(`/preferences/${token}`);
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /reader@example.com/);
      assert.match(page.body, /name="newsletters" value="\d+" checked/);
      const saved = await agent.post(`/preferences/${token}`, { name: 'Rita <b>R</b> http://x.example' });
      assert.equal(saved.statusCode, 200);
      assert.match(saved.body, /Your preferences are saved/);
      let sub = await subscriptionOf(t, 'reader@example.com');
      assert.equal(sub?.name, 'Rita R');
      assert.equal(sub?.status, 'unsubscribed', 'an unticked newsletter is left');
      const id = (await t.db.db.selectFrom('newsletters').select('id').executeTakeFirstOrThrow()).id;
      await agent.post(`/preferences/${token}`, { name: 'Rita', newsletters: String(id) });
      assert.equal((await subscriptionOf(t, 'reader@example.com'))?.status, 'active');
      const all = await agent.post(`/preferences/${token}`, { action: 'unsubscribe_all' });
      assert.match(all.body, /unsubscribed from everything/);
      sub = await subscriptionOf(t, 'reader@example.com');
      assert.equal(sub?.status, 'unsubscribed');
      assert.equal((await agent.post('/preferences/not-a-valid-token-xxxxxxxxxxxx', { name: 'x' })).statusCode, 404);
      assert.equal((await agent.post(`/preferences/${token}`, { newsletters: 'abc' })).statusCode, 422);
    });

    it('"download my data" returns everything we hold as JSON', async () => {
      const res = await t.agent().get(`/preferences/${token}/data.json`);
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-disposition']), /attachment/);
      const data = res.json();
      assert.equal(data.email, 'reader@example.com');
      assert.equal(data.name, 'Rita');
      assert.equal(data.subscriptions[0].status, 'active');
      assert.deepEqual(data.events.map((e: { type: string }) => e.type), ['subscribed', 'confirmation_sent', 'confirmed']);
    });

    it('the unsubscribe token grants nothing in the admin', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/admin', headers: { cookie: `gazette_session=${token}` } });
      assert.equal(res.statusCode, 303);
      assert.match(String(res.headers.location), /^\/login/);
    });
  });
}
