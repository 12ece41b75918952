import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { buildTestApp, OWNER, setupOwner, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { browserMissingReason, freePort, journeyHelpers, launchBrowser, newContext } from '../../e2e/harness.js';
import { firstNewsletterId, makeSubscriber } from './factories.js';

/**
 * The subscribers list in Chromium with htmx running: the bulk form's own controls must not refresh the
 * list under it (the filter form reloads #results, which clears the selection and the chosen action).
 */
const skip = browserMissingReason();

for (const dialect of DIALECTS) {
  describe(`subscribers list in a real browser (${dialect})`, { skip }, () => {
    let t: TestApp;
    let browser: Browser;
    let page: Page;
    let base: string;
    const problems: string[] = [];
    const { check, step } = journeyHelpers(`subscribers-${dialect}`, problems);

    before(async () => {
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      t = await buildTestApp(dialect, { env: { BASE_URL: base } });
      t.clock.set(Date.now());
      await t.app.listen({ port, host: '127.0.0.1' });
      await setupOwner(t);
      browser = await launchBrowser();
      page = await (await newContext(browser)).newPage();
      await page.goto(`${base}/login`);
      await page.getByLabel('Email').fill(OWNER.email);
      await page.getByLabel('Password').fill(OWNER.password);
      await Promise.all([page.waitForURL(`${base}/admin`), page.getByRole('button', { name: 'Sign in' }).click()]);
    });
    after(async () => {
      await browser?.close();
      await t?.close();
    });

    it('choosing "Remove tag" keeps the selection, and Apply removes the tag', async () => {
      const db = t.db.db;
      const newsletterId = await firstNewsletterId(db);
      const ada = await makeSubscriber(db, { email: 'ada@example.com', subscriptions: [{ newsletterId, status: 'active' }], tags: ['vip'] });
      const bob = await makeSubscriber(db, { email: 'bob@example.com', subscriptions: [{ newsletterId, status: 'active' }], tags: ['vip'] });
      const filterRequests: string[] = [];

      await step('bulk-untag', page, async () => {
        await page.goto(`${base}/admin/subscribers`);
        // htmx is a deferred script: the form's triggers exist only once it has loaded.
        await page.waitForLoadState('load');
        page.on('request', (r) => {
          if (r.method() === 'GET' && r.headers()['hx-request'] === 'true') filterRequests.push(r.url());
        });
        await page.getByRole('checkbox', { name: 'Select ada@example.com' }).check();
        await page.getByLabel('Action').selectOption({ label: 'Remove tag' });
        // A refresh would be under way now (htmx marks the requesting form); wait for it to end, if any.
        await page.waitForFunction(() => (globalThis as unknown as { document: { querySelector(s: string): unknown } }).document.querySelector('.htmx-request') === null);
        assert.equal(await page.getByLabel('Action').inputValue(), 'untag', 'the chosen action stays chosen');
        assert.equal(await page.getByRole('checkbox', { name: 'Select ada@example.com' }).isChecked(), true, 'the selection stays');
        await page.locator('#bulk').getByLabel('Tag', { exact: true }).fill('vip');
        await check(page, 'bulk-untag');
        await Promise.all([page.waitForURL(/done=untagged/), page.locator('#bulk').getByRole('button', { name: 'Apply' }).click()]);
        await page.getByText('Removed “vip” from 1 subscriber.').waitFor();
      });

      assert.deepEqual(filterRequests, [], 'the bulk form fired no list refresh');
      const tagged = await db.selectFrom('subscriber_tags').select('subscriber_id').orderBy('subscriber_id').execute();
      assert.deepEqual(tagged.map((r) => r.subscriber_id), [bob], `ada (${ada}) lost the tag, bob kept it`);

      // The filter form's own selects still refresh the list.
      await page.getByLabel('Status', { exact: true }).selectOption('active');
      await page.waitForURL(/[?&]status=active/);
      assert.equal(filterRequests.length, 1);
      assert.deepEqual(problems, []);
    });
  });
}
