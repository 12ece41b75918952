import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { recordEvent } from '../../../src/domain/events.js';
import { describeEvent } from '../../../src/features/subscribers/history.js';
import { buildTestApp, setupOwner, TEST_BASE_URL, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { firstNewsletterId, makeSubscriber } from './factories.js';

/** The subscriber page's History: one readable line per event, details as "key: value", never raw JSON. */

const event = (type: string, data: unknown, newsletterId: number | null = 1) => ({
  type,
  created_at: Date.UTC(2026, 10, 22, 12),
  newsletter_id: newsletterId,
  data: typeof data === 'string' ? data : JSON.stringify(data),
});

describe('history lines', () => {
  it('says what happened, with the newsletter and the way it happened', () => {
    const cases: Array<[ReturnType<typeof event>, string | undefined, string]> = [
      [event('subscribed', { source: 'form', status: 'active' }), 'Weekly', 'Subscribed to Weekly via the hosted form'],
      [event('subscribed', { source: 'embed', status: 'pending' }), 'Weekly', 'Subscribed to Weekly via a form embedded on another site, waiting for confirmation'],
      [event('resubscribed', { source: 'preferences' }), 'Weekly', 'Subscribed again to Weekly via the preferences page'],
      [event('confirmation_sent', {}), 'Weekly', 'Confirmation email sent for Weekly'],
      [event('confirmed', {}), 'Weekly', 'Confirmed the subscription to Weekly'],
      [event('unsubscribed', { source: 'one-click' }, null), undefined, 'Unsubscribed (one-click)'],
      [event('unsubscribed', { source: 'admin' }), 'Weekly', 'Unsubscribed from Weekly (by you in the admin)'],
      [event('tagged', { tag: 'vip' }, null), undefined, 'Tagged vip'],
      [event('untagged', { tag: 'vip' }, null), undefined, 'Tag vip removed'],
      [event('edited', { fields: ['email', 'name'] }, null), undefined, 'Edited email and name'],
      [event('edited', { fields: ['attributes'] }, null), undefined, 'Edited custom attributes'],
      [event('preferences_updated', {}, null), undefined, 'Updated their preferences'],
    ];
    for (const [e, newsletter, text] of cases) {
      const line = describeEvent(e, newsletter);
      assert.equal(line.text, text);
      assert.deepEqual(line.details, [], text);
    }
  });

  it('lists what the sentence does not say as key: value pairs, flattening nested data', () => {
    const bounced = describeEvent(event('bounced', { response: '550 5.1.1 no such user', messageId: '<a@b>' }), 'Weekly');
    assert.equal(bounced.text, 'A post of Weekly bounced: the address is suppressed');
    assert.deepEqual(bounced.details, [
      { key: 'Answer', value: '550 5.1.1 no such user' },
      { key: 'Message-ID', value: '<a@b>' },
    ]);
    const odd = describeEvent(event('moved_house', { city: 'Lyon', meta: { by: 'import', flags: ['a', 'b'], none: null }, n: 3 }, null), undefined);
    assert.equal(odd.text, 'Moved house');
    assert.deepEqual(odd.details, [
      { key: 'city', value: 'Lyon' },
      { key: 'meta.by', value: 'import' },
      { key: 'meta.flags', value: 'a, b' },
      { key: 'meta.none', value: '—' },
      { key: 'n', value: '3' },
    ]);
    const imported = describeEvent(event('imported', { import: 'abc_123', status: 'active' }), 'Weekly');
    assert.equal(imported.text, 'Imported into Weekly');
    assert.equal(imported.href, '/admin/subscribers/import/abc_123');
    assert.deepEqual(imported.details, []);
    // Data that is not a JSON object says nothing more rather than breaking the page.
    assert.deepEqual(describeEvent(event('tagged', 'not json {', null), undefined), { at: Date.UTC(2026, 10, 22, 12), text: 'Tagged', details: [] });
  });
});

for (const dialect of DIALECTS) {
  describe(`subscriber history page (${dialect})`, () => {
    let t: TestApp;
    let agent: Agent;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      agent = await setupOwner(t);
    });
    afterEach(() => t.close());

    it('shows each recorded event as a sentence, and no JSON', async () => {
      const newsletterId = await firstNewsletterId(t.db.db);
      const name = 'Weekly';
      await t.db.db.updateTable('newsletters').set({ name }).where('id', '=', newsletterId).execute();
      await agent.get('/admin/subscribers/new');
      const added = await agent.post('/admin/subscribers', { email: 'ada@example.com', newsletter_id: String(newsletterId), status: 'active' });
      assert.equal(added.statusCode, 303);
      const id = Number(String(added.headers.location).split('/').pop());
      await agent.get(`/admin/subscribers/${id}`);
      assert.equal((await agent.post(`/admin/subscribers/${id}/tags`, { tag: 'vip' })).statusCode, 303);
      const token = (await t.db.db.selectFrom('subscribers').select('token').where('id', '=', id).executeTakeFirstOrThrow()).token;
      const oneClick = await t.app.inject({
        method: 'POST',
        url: `/unsubscribe/${token}`,
        headers: { host: new URL(TEST_BASE_URL).host, 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'List-Unsubscribe=One-Click',
      });
      assert.equal(oneClick.statusCode, 200);
      await recordEvent(t.db.db, { type: 'edited', at: t.clock.now(), subscriberId: id, data: { fields: ['name'], via: { tool: 'cli', note: 'a "quoted" {thing}' } } });

      const page = await agent.get(`/admin/subscribers/${id}`);
      assert.equal(page.statusCode, 200);
      const history = /<section class="card" id="events">([\s\S]*?)<\/section>/.exec(page.body)?.[1] ?? '';
      const lines = [...history.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => m[1]!.replace(/<time[^>]*>[^<]*<\/time>\s*/, '').trim());
      assert.deepEqual(lines, [
        'Edited name <span class="muted">(via.tool: cli; via.note: a &quot;quoted&quot; {thing})</span>',
        `Unsubscribed from ${name} (one-click)`,
        'Tagged vip',
        `Subscribed to ${name} via the admin`,
      ]);
      assert.doesNotMatch(history, /<code|&quot;(source|tag|fields)&quot;|"source"/);
    });

    it('names a deleted newsletter rather than dropping the line', async () => {
      const id = await makeSubscriber(t.db.db, { email: 'bob@example.com' });
      await recordEvent(t.db.db, { type: 'confirmed', at: t.clock.now(), subscriberId: id, newsletterId: null });
      const page = await agent.get(`/admin/subscribers/${id}`);
      assert.match(page.body, /<\/time> Confirmed the subscription<\/li>/);
    });
  });
}
