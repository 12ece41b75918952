import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DIALECTS } from '../helpers/db.js';
import { browserMissingReason, closeJourney, journeyHelpers, newContext, openJourney, type RunningServer } from './harness.js';

/**
 * The newcomer's path in a real browser: the built server with no SMTP settings at all, so every mail goes
 * to the dev outbox. The writer reads the confirmation there; the reader confirms and then unsubscribes.
 */
const OWNER = { name: 'Nell Newcomer', email: 'nell@example.com', password: 'first light over the harbour' };
const skip = browserMissingReason();

for (const dialect of DIALECTS) {
  describe(`zero-config journey in a real browser (${dialect})`, { skip }, () => {
    let server: RunningServer;
    let browser: Browser;
    let writer: BrowserContext;
    let page: Page;
    const problems: string[] = [];

    before(async () => ({ server, browser, writer, page } = await openJourney({ dialect, relay: false })));
    after(() => closeJourney({ browser, server }));

    const { check, step } = journeyHelpers(`zero-config-${dialect}`, problems);

    it('setup, a reader subscribes, the writer finds the confirmation in the outbox, the reader confirms and leaves', async () => {
      await step('setup', page, async () => {
        await page.goto(`${server.baseUrl}/`);
        await page.getByLabel('Your name').fill(OWNER.name);
        await page.getByLabel('Email').fill(OWNER.email);
        await page.getByLabel('Password').fill(OWNER.password);
        await Promise.all([page.waitForURL('**/admin'), page.getByRole('button', { name: 'Create account' }).click()]);
        await page.getByText('Mail is not being delivered').first().waitFor();
      });

      const reader = await newContext(browser, { javaScriptEnabled: false });
      const p = await reader.newPage();
      try {
        await step('subscribe', p, async () => {
          await p.goto(`${server.baseUrl}/`);
          await p.getByLabel('Email address').fill('first.reader@example.com');
          // The form has a minimum fill time against bots: a person takes a few seconds.
          await p.waitForTimeout(2100);
          await p.getByRole('button', { name: 'Subscribe' }).click();
          await p.getByRole('heading', { name: 'Check your inbox' }).waitFor();
          await check(p, 'subscribed', { javaScriptEnabled: false });
        });

        // The server still answers: pages and the health check.
        const health = await fetch(`${server.baseUrl}/healthz`);
        assert.equal(health.status, 200);
        assert.deepEqual(await health.json(), { status: 'ok', db: 'ok' });

        let confirmUrl = '';
        await step('outbox', page, async () => {
          await page.goto(`${server.baseUrl}/admin`);
          await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Outbox' }).click();
          await page.getByRole('heading', { name: 'Outbox' }).waitFor();
          await check(page, 'outbox');
          await page.getByRole('link', { name: /Confirm your subscription/ }).click();
          const text = await page.locator('pre.mail-text').first().innerText();
          const match = /(http:\/\/127\.0\.0\.1:\d+\/confirm\/[A-Za-z0-9_-]+)/.exec(text);
          assert.ok(match, `a confirmation link in the captured mail:\n${text}`);
          confirmUrl = match[1]!;
          await check(page, 'outbox-message');
        });

        await step('confirm-and-leave', p, async () => {
          await p.goto(confirmUrl);
          await p.getByRole('button', { name: 'Yes, subscribe me' }).click();
          await p.getByRole('heading', { name: 'You are subscribed' }).waitFor();
          await p.getByRole('link', { name: 'Manage your subscription' }).click();
          await p.getByRole('heading', { name: 'Your subscription' }).waitFor();
          await p.getByRole('button', { name: 'Unsubscribe from everything' }).click();
          await p.getByText('You have been unsubscribed from everything.').waitFor();
          await check(p, 'unsubscribed', { javaScriptEnabled: false });
        });

        await step('mail-log', page, async () => {
          await page.goto(`${server.baseUrl}/admin/mail`);
          await page.getByRole('cell', { name: 'first.reader@example.com' }).waitFor();
          assert.match(await page.locator('table').innerText(), /Subscription confirmation[\s\S]*Sent/);
          await check(page, 'mail-log');
        });
      } finally {
        await reader.close();
      }
    });

    it('every visited page is free of serious and critical accessibility violations', () => {
      assert.deepEqual(problems, []);
    });
  });
}
