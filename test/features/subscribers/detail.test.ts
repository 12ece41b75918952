import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { emailHash, suppress } from '../../../src/domain/suppressions.js';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { count, firstNewsletterId, makeNewsletter, makeSubscriber, tagId } from './factories.js';

for (const dialect of DIALECTS) {
  describe(`subscriber detail and actions (${dialect})`, () => {
    let t: TestApp;
    let agent: Agent;
    let weekly: number;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      agent = await setupOwner(t);
      weekly = await firstNewsletterId(t.db.db);
    });
    afterEach(() => t.close());

    const subscriber = (id: number) => t.db.db.selectFrom('subscribers').selectAll().where('id', '=', id).executeTakeFirst();
    const subscriptionsOf = (id: number) =>
      t.db.db.selectFrom('subscriptions').selectAll().where('subscriber_id', '=', id).orderBy('newsletter_id').execute();

    it('adds a subscriber as confirmed, or pending with a confirmation email', async () => {
      await agent.get('/admin/subscribers/new');
      const res = await agent.post('/admin/subscribers', { email: ' New@Example.com ', name: 'New Reader', newsletter_id: String(weekly), status: 'active' });
      assert.equal(res.statusCode, 303);
      const id = Number(String(res.headers.location).split('/').pop());
      const row = await subscriber(id);
      assert.equal(row?.email, 'new@example.com');
      assert.equal(row?.email_hash, emailHash('new@example.com'));
      assert.equal(row?.source, 'admin');
      assert.ok(row!.token.length >= 32);
      const subs = await subscriptionsOf(id);
      assert.equal(subs.length, 1);
      assert.equal(subs[0]!.status, 'active');
      assert.ok(subs[0]!.confirmed_at);

      const page = await agent.get(`/admin/subscribers/${id}`);
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /New Reader/);
      assert.match(page.body, /subscribed/);

      const pending = await agent.post('/admin/subscribers', { email: 'later@example.com', newsletter_id: String(weekly), status: 'pending' });
      assert.equal(pending.statusCode, 303);
      const laterId = Number(String(pending.headers.location).split('/').pop());
      assert.equal((await subscriptionsOf(laterId))[0]!.status, 'pending');
      assert.equal(t.mailer.sent.filter((m) => String(m.to).includes('later@example.com')).length, 1);
    });

    it('refuses bad input beside the field: invalid, duplicate and suppressed addresses', async () => {
      await makeSubscriber(t.db.db, { email: 'taken@example.com' });
      await suppress(t.db.db, 'bounced@example.com', 'bounced', Date.now());
      const before = await count(t.db.db, 'subscribers');
      for (const [email, message] of [
        ['not-an-email', /id="f-email-error">Enter a valid email address/],
        ['TAKEN@example.com', /id="f-email-error">This address is already on your list/],
        ['bounced@example.com', /id="f-email-error">This address is suppressed \(bounced\)/],
      ] as const) {
        const res = await agent.post('/admin/subscribers', { email, newsletter_id: String(weekly), status: 'active' });
        assert.equal(res.statusCode, 422, email);
        assert.match(res.body, message);
      }
      const noNewsletter = await agent.post('/admin/subscribers', { email: 'ok@example.com', newsletter_id: '999999', status: 'active' });
      assert.equal(noNewsletter.statusCode, 422);
      assert.match(noNewsletter.body, /id="f-newsletter_id-error">Choose a newsletter/);
      assert.equal(await count(t.db.db, 'subscribers'), before);
    });

    it('edits email and name (keeping the hash in step) and custom attributes', async () => {
      const id = await makeSubscriber(t.db.db, { email: 'old@example.com', name: 'Old', attributes: { plan: 'pro', visits: 3 } });
      await makeSubscriber(t.db.db, { email: 'other@example.com' });
      await agent.get(`/admin/subscribers/${id}`);
      const clash = await agent.post(`/admin/subscribers/${id}`, { email: 'other@example.com', name: 'X' });
      assert.equal(clash.statusCode, 422);
      assert.match(clash.body, /Another subscriber already has this address/);

      const ok = await agent.post(`/admin/subscribers/${id}`, { email: 'New@Example.com', name: '  New   Name ' });
      assert.equal(ok.statusCode, 303);
      const row = await subscriber(id);
      assert.equal(row?.email, 'new@example.com');
      assert.equal(row?.email_hash, emailHash('new@example.com'));
      assert.equal(row?.name, 'New Name');

      // plan changes, visits is untouched (keeps its number type), city is added, an empty row is ignored.
      const attrs = await agent.post(`/admin/subscribers/${id}/attributes`, { key: ['plan', 'visits', 'city', ''], value: ['free', '3', 'Lyon', ''] });
      assert.equal(attrs.statusCode, 303);
      assert.deepEqual(JSON.parse((await subscriber(id))!.attributes), { plan: 'free', visits: 3, city: 'Lyon' });
      // An empty value removes the key.
      await agent.post(`/admin/subscribers/${id}/attributes`, { key: ['plan', 'visits', 'city'], value: ['', '3', 'Lyon'] });
      assert.deepEqual(JSON.parse((await subscriber(id))!.attributes), { visits: 3, city: 'Lyon' });
      const bad = await agent.post(`/admin/subscribers/${id}/attributes`, { key: ['city', 'city', 'x<y>'], value: ['a', 'b', 'c'] });
      assert.equal(bad.statusCode, 422);
      assert.match(bad.body, /This name is used twice/);
      assert.deepEqual(JSON.parse((await subscriber(id))!.attributes), { visits: 3, city: 'Lyon' });
    });

    it('tags and untags one subscriber, answering the tags fragment to htmx', async () => {
      const id = await makeSubscriber(t.db.db, { email: 'tagme@example.com' });
      await agent.get(`/admin/subscribers/${id}`);
      const added = await agent.post(`/admin/subscribers/${id}/tags`, { tag: '  Early   bird ' }, { 'hx-request': 'true' });
      assert.equal(added.statusCode, 200);
      assert.match(added.body, /^<section class="card" id="tags">/m);
      assert.match(added.body, /Early bird/);
      // Same tag in another case: reused, not duplicated.
      await agent.post(`/admin/subscribers/${id}/tags`, { tag: 'early BIRD' });
      assert.equal(await count(t.db.db, 'tags'), 1);
      assert.equal(await count(t.db.db, 'subscriber_tags'), 1);
      const empty = await agent.post(`/admin/subscribers/${id}/tags`, { tag: '   ' });
      assert.equal(empty.statusCode, 422);
      assert.match(empty.body, /Enter a tag/);
      const tag = await tagId(t.db.db, 'Early bird');
      const removed = await agent.post(`/admin/subscribers/${id}/tags/${tag}/delete`, {});
      assert.equal(removed.statusCode, 303);
      assert.equal(await count(t.db.db, 'subscriber_tags'), 0);
      const types = (await t.db.db.selectFrom('events').select('type').where('subscriber_id', '=', id).execute()).map((e) => e.type);
      assert.deepEqual(types.sort(), ['tagged', 'untagged']);
    });

    it('tags and untags in bulk: a selection, or every subscriber the filter matches', async () => {
      const daily = await makeNewsletter(t.db.db, 'daily');
      const a = await makeSubscriber(t.db.db, { subscriptions: [{ newsletterId: weekly, status: 'active' }] });
      const b = await makeSubscriber(t.db.db, { subscriptions: [{ newsletterId: weekly, status: 'active' }] });
      const c = await makeSubscriber(t.db.db, { subscriptions: [{ newsletterId: weekly, status: 'unsubscribed' }] });
      const d = await makeSubscriber(t.db.db, { subscriptions: [{ newsletterId: daily, status: 'active' }] });
      await agent.get('/admin/subscribers');
      const selected = await agent.post('/admin/subscribers/bulk', { action: 'tag', tag_name: 'picked', scope: 'selected', ids: [String(a), String(c)] });
      assert.equal(selected.statusCode, 303);
      assert.match(String(selected.headers.location), /done=tagged&n=2/);
      const picked = await tagId(t.db.db, 'picked');
      const holders = async (tag: number) =>
        (await t.db.db.selectFrom('subscriber_tags').select('subscriber_id').where('tag_id', '=', tag).orderBy('subscriber_id').execute()).map((r) => r.subscriber_id);
      assert.deepEqual(await holders(picked), [a, c]);

      // The whole filter: active subscribers of the weekly newsletter.
      const filtered = await agent.post('/admin/subscribers/bulk', { action: 'tag', tag_name: 'weekly-active', scope: 'filter', newsletter: String(weekly), status: 'active' });
      assert.equal(filtered.statusCode, 303);
      assert.match(String(filtered.headers.location), new RegExp(`newsletter=${weekly}&status=active&done=tagged&n=2`));
      assert.deepEqual(await holders(await tagId(t.db.db, 'weekly-active')), [a, b]);
      const page = await agent.get(String(filtered.headers.location));
      assert.match(page.body, /Tagged 2 subscribers with “weekly-active”/);

      const untag = await agent.post('/admin/subscribers/bulk', { action: 'untag', tag_name: 'PICKED', scope: 'filter' });
      assert.match(String(untag.headers.location), /done=untagged&n=2/);
      assert.deepEqual(await holders(picked), []);

      const none = await agent.post('/admin/subscribers/bulk', { action: 'tag', tag_name: 'x', scope: 'selected' });
      assert.equal(none.statusCode, 422);
      assert.match(none.body, /Select at least one subscriber/);
      assert.ok(d);
    });

    it('unsubscribes from one newsletter or all, and never touches an ended subscription', async () => {
      const daily = await makeNewsletter(t.db.db, 'daily');
      const id = await makeSubscriber(t.db.db, { subscriptions: [{ newsletterId: weekly, status: 'active' }, { newsletterId: daily, status: 'pending' }] });
      await agent.get(`/admin/subscribers/${id}`);
      t.clock.advance(60_000);
      assert.equal((await agent.post(`/admin/subscribers/${id}/unsubscribe`, { newsletter_id: String(weekly) })).statusCode, 303);
      let subs = await subscriptionsOf(id);
      assert.deepEqual(subs.map((s) => s.status), ['unsubscribed', 'pending']);
      const firstUnsubscribedAt = subs[0]!.unsubscribed_at;
      assert.equal(firstUnsubscribedAt, t.clock.now());
      t.clock.advance(60_000);
      await agent.post(`/admin/subscribers/${id}/unsubscribe`, { newsletter_id: 'all' });
      subs = await subscriptionsOf(id);
      assert.deepEqual(subs.map((s) => s.status), ['unsubscribed', 'unsubscribed']);
      assert.equal(subs[0]!.unsubscribed_at, firstUnsubscribedAt);
      const events = await t.db.db.selectFrom('events').select(['type', 'newsletter_id']).where('subscriber_id', '=', id).execute();
      assert.equal(events.filter((e) => e.type === 'unsubscribed').length, 2);
      const bad = await agent.post(`/admin/subscribers/${id}/unsubscribe`, { newsletter_id: 'nope' });
      assert.equal(bad.statusCode, 422);
    });

    it('deletes as a GDPR wipe: personal data gone, anonymous events and suppression kept', async () => {
      const db = t.db.db;
      const id = await makeSubscriber(db, { email: 'gone@example.com', name: 'Gone', attributes: { city: 'Paris' }, subscriptions: [{ newsletterId: weekly, status: 'active' }], tags: ['vip'] });
      const keep = await makeSubscriber(db, { email: 'keep@example.com', subscriptions: [{ newsletterId: weekly, status: 'active' }], tags: ['vip'] });
      await suppress(db, 'gone@example.com', 'complained', Date.now());
      await db.insertInto('events').values({ type: 'unsubscribed', subscriber_id: id, newsletter_id: weekly, post_id: null, data: JSON.stringify({ ip: '203.0.113.9' }), created_at: 1 }).execute();
      await agent.get(`/admin/subscribers/${id}`);
      const res = await agent.post(`/admin/subscribers/${id}/delete`, {});
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/admin/subscribers?done=deleted');
      assert.equal(await subscriber(id), undefined);
      assert.equal((await subscriptionsOf(id)).length, 0);
      assert.equal((await db.selectFrom('subscriber_tags').selectAll().where('subscriber_id', '=', id).execute()).length, 0);
      assert.ok(await subscriber(keep));
      assert.equal(await count(db, 'subscriber_tags'), 1);
      // The event survives without who or what: anonymous counts only.
      const orphans = await db.selectFrom('events').selectAll().where('subscriber_id', 'is', null).where('type', '=', 'unsubscribed').execute();
      assert.equal(orphans.length, 1);
      assert.equal(orphans[0]!.data, '{}');
      const suppression = await db.selectFrom('suppressions').selectAll().execute();
      assert.deepEqual(suppression.map((s) => s.email_hash), [emailHash('gone@example.com')]);
      const dump = JSON.stringify(await db.selectFrom('events').selectAll().execute());
      assert.doesNotMatch(dump, /gone@example\.com|203\.0\.113\.9/);
      assert.equal((await agent.get(`/admin/subscribers/${id}`)).statusCode, 404);
      assert.equal((await agent.post(`/admin/subscribers/${id}/delete`, {})).statusCode, 404);
      assert.equal((await agent.get('/admin/subscribers/abc')).statusCode, 404);
    });
  });
}
