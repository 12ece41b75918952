import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import type { Browser, Page } from 'playwright-core';
import { browserMissingReason, closeJourney, journeyHelpers, openJourney, type RunningServer } from './harness.js';

/**
 * Issue 28 in a real browser: the writer turns aggregate tracking on, sends a post, readers' mail clients
 * fetch the pixel and follow a link (and Apple's proxy prefetches), the roll-up job runs from the Jobs
 * page, and the post's stats page and the dashboard show people and machines apart. axe audits both.
 */

const OWNER = { name: 'Stat Writer', email: 'stat@example.com', password: 'numbers that tell the truth' };
const READERS = ['ann@example.org', 'bob@example.org'];
const BROWSER_UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
const skip = browserMissingReason();

describe('stats pages in a real browser (sqlite)', { skip }, () => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const { check, step } = journeyHelpers('stats-sqlite', problems);

  before(async () => ({ server, browser, page } = await openJourney({ dialect: 'sqlite' })));
  after(() => closeJourney({ browser, server }));

  it('tracks a sent post and shows human and machine numbers apart, accessibly', async () => {
    let postUrl = '';
    await step('setup', page, async () => {
      await page.goto(`${server.baseUrl}/setup`);
      await page.getByLabel('Your name').fill(OWNER.name);
      await page.getByLabel('Email').fill(OWNER.email);
      await page.getByLabel('Password').fill(OWNER.password);
      await Promise.all([page.waitForURL('**/admin'), page.getByRole('button', { name: 'Create account' }).click()]);
      await page.goto(`${server.baseUrl}/admin/newsletters`);
      await page.locator('table a[href^="/admin/newsletters/"]').first().click();
      const aggregate = page.locator('input[name="tracking_mode"][value="aggregate"]');
      await aggregate.check();
      await check(page, 'newsletter-tracking');
      await Promise.all([page.waitForURL(/saved=1/), page.getByRole('button', { name: 'Save' }).click()]);
      assert.equal(await aggregate.isChecked(), true);
      for (const email of READERS) {
        await page.goto(`${server.baseUrl}/admin/subscribers/new`);
        await page.getByLabel('Email', { exact: true }).fill(email);
        await page.getByLabel('Already confirmed').check();
        await Promise.all([page.waitForURL(/\/admin\/subscribers\/\d+$/), page.getByRole('button', { name: 'Add subscriber' }).click()]);
      }
    });

    await step('send', page, async () => {
      await page.goto(`${server.baseUrl}/admin/posts/new`);
      await page.getByLabel('Subject').fill('Counting honestly');
      await Promise.all([page.waitForURL(/\/admin\/posts\/\d+\/edit$/), page.getByRole('button', { name: 'Start writing' }).click()]);
      postUrl = page.url().replace(/\/edit$/, '');
      await page.getByLabel('Body (Markdown)').fill('Read [the report](https://example.org/report) and [the notes](https://example.org/notes).');
      await page.locator('#save-status', { hasText: /^\s*Saved at/ }).waitFor();
      await page.goto(`${postUrl}/send`);
      await Promise.all([page.waitForURL(/\?started=1$/), page.getByRole('button', { name: 'Send to 2 subscribers now' }).click()]);
      await page.locator('#sending-progress').getByRole('heading', { name: 'Sent', exact: true }).waitFor({ timeout: 30_000 });
    });

    await step('readers', page, async () => {
      await server.smtp.waitUntil(() => READERS.every((r) => server.smtp.messages.some((m) => m.envelope.to.includes(r))), 10_000, 'the post for every reader');
      const html = String((await simpleParser(server.smtp.messages.find((m) => m.envelope.to.includes(READERS[0]!))!.raw)).html);
      const click = new RegExp(`href="(${server.baseUrl}/c/[^"]+)"[^>]*>the notes`).exec(html)?.[1];
      const pixel = new RegExp(`src="(${server.baseUrl}/o/[^"]+\\.gif)"`).exec(html)?.[1];
      assert.ok(click && pixel, 'the mail has a tracked link and a pixel');
      const get = (url: string, ua: string) => fetch(url, { redirect: 'manual', headers: { 'user-agent': ua } });
      assert.equal((await get(pixel, BROWSER_UA)).status, 200);
      assert.equal((await get(pixel, 'Mozilla/5.0')).status, 200);
      const res = await get(click, BROWSER_UA);
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), 'https://example.org/notes');
    });

    await step('stats', page, async () => {
      // Hits are recorded within a few seconds; the writer runs the roll-up from the Jobs page until they show.
      const deadline = Date.now() + 30_000;
      for (;;) {
        await page.goto(`${server.baseUrl}/admin/jobs`);
        await page.locator('#job-stats-rollups').getByRole('button', { name: 'Run now' }).click();
        await page.waitForLoadState();
        await page.goto(`${postUrl}/stats`);
        const value = (label: string) => page.locator('.stat-grid li', { hasText: label }).locator('.value').textContent().catch(() => null);
        if (((await value('Human opens (total)')) === '1' && (await value('Human clicks (total)')) === '1') || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      const grid = (label: string) => page.locator('.stat-grid li', { hasText: label }).locator('.value').textContent();
      assert.equal(await grid('Recipients'), '2');
      assert.equal(await grid('Human opens (total)'), '1');
      assert.equal(await grid('Machine opens'), '1');
      assert.equal(await grid('Human clicks (total)'), '1');
      await page.getByRole('img', { name: 'Opens in the first 72 hours' }).waitFor();
      await page.getByRole('row', { name: /apple mpp/i }).waitFor();
      await page.getByRole('cell', { name: 'https://example.org/notes' }).waitFor();
      await check(page, 'post-stats');
      await page.getByText('Show the numbers').first().click();
      await check(page, 'post-stats-table');
      await page.goto(`${server.baseUrl}/admin`);
      await page.getByRole('img', { name: 'Subscribers over the last 30 days' }).waitFor();
      await page.getByRole('link', { name: 'Counting honestly' }).waitFor();
      await check(page, 'dashboard');
    });
    assert.deepEqual(problems, []);
  });
});
