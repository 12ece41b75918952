import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { connectDatabase, type DbHandle } from '../../src/db/connect.js';
import { DIALECTS } from '../helpers/db.js';
import { startFakeStripe, type FakeStripe } from '../helpers/fake-stripe.js';
import { browserMissingReason, closeJourney, journeyHelpers, newContext, openJourney, type RunningServer } from './harness.js';

const OWNER = { name: 'Pat Publisher', email: 'pat@example.com', password: 'coins in a paper jar' };
const READER = 'supporter@example.com';
const skip = browserMissingReason();

/**
 * Paid plans in a real browser with JavaScript off: the writer sets prices, a reader pays through
 * "Stripe Checkout" (the fake's page, answered by the test, which then sends Stripe's signed events to the
 * server), then pauses, resumes and cancels from the preferences page.
 */
for (const dialect of DIALECTS) {
  describe(`paid plans in a real browser (${dialect})`, { skip }, () => {
    let stripe: FakeStripe;
    let server: RunningServer;
    let browser: Browser;
    let writer: BrowserContext;
    let database: DbHandle | undefined;
    const problems: string[] = [];
    const { check, step } = journeyHelpers(`paid-${dialect}`, problems);

    before(async () => {
      stripe = await startFakeStripe({ now: () => Date.now() });
      ({ server, browser, writer } = await openJourney({ dialect, env: stripe.env }));
    });
    after(async () => {
      await database?.close();
      await closeJourney({ browser, server });
      await stripe?.close();
    });

    const db = async () => {
      if (server.db) return server.db.db;
      database ??= await connectDatabase({ kind: 'sqlite', file: path.join(server.dataDir, 'gazette.db') });
      return database.db;
    };

    /** Stands in for Stripe's hosted Checkout: the payment succeeds, Stripe's events reach the webhook, the browser returns. */
    async function actAsCheckout(p: Page) {
      await p.route('https://checkout.stripe.test/**', async (route) => {
        const sessionId = /\/c\/pay\/(cs_test_\w+)/.exec(route.request().url())?.[1] ?? '';
        const session = stripe.sessions.get(sessionId)!;
        const { events } = stripe.completeCheckout(sessionId);
        for (const e of events) {
          const payload = JSON.stringify(e);
          const res = await fetch(`${server.baseUrl}/webhooks/stripe`, { method: 'POST', body: payload, headers: { 'content-type': 'application/json', 'stripe-signature': stripe.sign(payload) } });
          assert.equal(res.status, 200, await res.text());
        }
        await route.fulfill({ status: 303, headers: { location: session.success_url } });
      });
    }

    it('the writer sets a monthly and a yearly price', async () => {
      const page = await writer.newPage();
      await step('prices', page, async () => {
        await page.goto(`${server.baseUrl}/`);
        await page.getByLabel('Your name').fill(OWNER.name);
        await page.getByLabel('Email').fill(OWNER.email);
        await page.getByLabel('Password').fill(OWNER.password);
        await Promise.all([page.waitForURL('**/admin'), page.getByRole('button', { name: 'Create account' }).click()]);
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Newsletters' }).click();
        await page.getByRole('table').getByRole('link').first().click();
        await page.getByRole('link', { name: 'Paid plans: prices and figures' }).click();
        await check(page, 'plan-page');
        await page.getByLabel('Monthly price').fill('5');
        await page.getByLabel('Yearly price').fill('50');
        await page.getByRole('button', { name: 'Save prices' }).click();
        await page.getByText('Saved. New readers pay the new prices').waitFor();
        await check(page, 'plan-saved');
      });
      assert.equal(stripe.prices.size, 2);
    });

    it('a reader pays, then pauses, resumes and cancels in one step each, without JavaScript', async () => {
      const reader = await newContext(browser, { javaScriptEnabled: false });
      const p = await reader.newPage();
      await actAsCheckout(p);
      try {
        await step('reader', p, async () => {
          await p.goto(`${server.baseUrl}/`);
          const paid = p.locator('#paid');
          await paid.getByLabel('Email address').fill(READER);
          await paid.getByRole('radio', { name: /Monthly/ }).check();
          await paid.getByRole('button', { name: 'Continue to payment' }).click();
          await p.getByRole('heading', { name: 'Thank you!' }).waitFor();
          await check(p, 'thanks', { javaScriptEnabled: false });

          const row = await (await db()).selectFrom('subscribers').select('token').where('email', '=', READER).executeTakeFirstOrThrow();
          await p.goto(`${server.baseUrl}/preferences/${row.token}`);
          const plan = p.locator('.paid-plan');
          await plan.getByText(/Next payment: \d{4}-\d\d-\d\d/).waitFor();
          const buttons = plan.locator('button.plan-action');
          assert.deepEqual(await buttons.allInnerTexts(), ['Pause', 'Cancel', 'Update card / invoices']);
          const sizes = await Promise.all((await buttons.all()).map(async (b) => (await b.boundingBox())!.height));
          assert.ok(Math.max(...sizes) - Math.min(...sizes) < 1, `the three buttons are the same height (${sizes.join(', ')})`);
          await check(p, 'preferences-paid', { javaScriptEnabled: false });

          await plan.getByLabel('Pause for').selectOption('2');
          await plan.getByRole('button', { name: 'Pause' }).click();
          await plan.getByText(/Paused until \d{4}-\d\d-\d\d/).waitFor();
          await check(p, 'preferences-paused', { javaScriptEnabled: false });

          await plan.getByRole('button', { name: 'Resume now' }).click();
          await plan.getByText(/Next payment:/).waitFor();

          await plan.getByRole('button', { name: 'Cancel' }).click();
          await p.getByRole('heading', { name: 'Cancel your paid subscription?' }).waitFor();
          await check(p, 'cancel-confirm', { javaScriptEnabled: false });
          await p.getByRole('button', { name: 'Cancel my subscription' }).click();
          await p.locator('.paid-plan').getByText(/you keep it until \d{4}-\d\d-\d\d/).waitFor();
          await check(p, 'preferences-cancelled', { javaScriptEnabled: false });
        });
      } finally {
        await reader.close();
      }
      const sub = [...stripe.subscriptions.values()][0]!;
      assert.equal(sub.cancel_at_period_end, true);
      assert.equal(sub.pause_collection, null);
    });

    it('every visited page is free of serious and critical accessibility violations', () => {
      assert.deepEqual(problems, []);
    });
  });
}
