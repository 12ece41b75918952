import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { firstNewsletterId, makeSubscriber } from './factories.js';

/**
 * The filter form refreshes the list on its own controls only; the bulk form (inside the list it
 * refreshes) has its own Action select, which must not count as a filter change.
 */
for (const dialect of DIALECTS) {
  describe(`subscribers bulk action markup (${dialect})`, () => {
    let t: TestApp;
    let agent: Agent;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      agent = await setupOwner(t);
    });
    afterEach(() => t.close());

    it('listens for changes on the filter form itself, never on every select of the page', async () => {
      const newsletterId = await firstNewsletterId(t.db.db);
      await makeSubscriber(t.db.db, { email: 'ada@example.com', subscriptions: [{ newsletterId, status: 'active' }], tags: ['vip'] });
      const res = await agent.get('/admin/subscribers');
      assert.equal(res.statusCode, 200);
      const filterForm = /<form class="filters card"[^>]*>[\s\S]*?<\/form>/.exec(res.body)?.[0] ?? '';
      const trigger = /hx-trigger="([^"]+)"/.exec(filterForm)?.[1] ?? '';
      const specs = trigger.split(',').map((s) => s.trim());
      assert.ok(specs.includes('change target:select'), trigger);
      assert.ok(specs.every((s) => !/\bfrom:select\b/.test(s)), `no trigger listens on every select: ${trigger}`);
      // The Action select belongs to the bulk form, outside the filter form.
      assert.doesNotMatch(filterForm, /name="action"/);
      assert.match(res.body, /<form method="post" action="\/admin\/subscribers\/bulk" id="bulk">[\s\S]*<select id="f-action" name="action">/);
    });

    it('removes the tag when the bulk form says "untag"', async () => {
      const newsletterId = await firstNewsletterId(t.db.db);
      const ada = await makeSubscriber(t.db.db, { email: 'ada@example.com', subscriptions: [{ newsletterId, status: 'active' }], tags: ['vip'] });
      await agent.get('/admin/subscribers');
      const res = await agent.post('/admin/subscribers/bulk', { action: 'untag', tag_name: 'vip', scope: 'selected', ids: String(ada) });
      assert.equal(res.statusCode, 303);
      assert.match(res.headers.location ?? '', /done=untagged/);
      assert.equal((await t.db.db.selectFrom('subscriber_tags').selectAll().execute()).length, 0);
    });
  });
}
