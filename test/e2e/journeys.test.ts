import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DIALECTS } from '../helpers/db.js';
import {
  browserMissingReason,
  closeJourney,
  journeyHelpers,
  newContext,
  openJourney,
  type RunningServer,
  serveOtherOrigin,
} from './harness.js';

const OWNER = { name: 'Wren Writer', email: 'wren@example.com', password: 'paper lanterns at dusk' };
const skip = browserMissingReason();

for (const dialect of DIALECTS) {
  describe(`journeys in a real browser (${dialect})`, { skip }, () => {
    let server: RunningServer;
    let browser: Browser;
    let writer: BrowserContext;
    let page: Page;
    const problems: string[] = [];

    before(async () => ({ server, browser, writer, page } = await openJourney({ dialect })));
    after(() => closeJourney({ browser, server }));

    const { check, step } = journeyHelpers(dialect, problems);

    it('1. first run: / → setup → owner signed in → dashboard', async () => {
      await step('first-run', page, async () => {
        await page.goto(`${server.baseUrl}/`);
        assert.equal(new URL(page.url()).pathname, '/setup');
        await check(page, 'setup');
        await page.getByLabel('Your name').fill(OWNER.name);
        await page.getByLabel('Email').fill(OWNER.email);
        await page.getByLabel('Password').fill(OWNER.password);
        await Promise.all([page.waitForURL('**/admin'), page.getByRole('button', { name: 'Create account' }).click()]);
        await page.getByRole('heading', { name: `Hello, ${OWNER.name}` }).waitFor();
        await check(page, 'dashboard');
        for (const [label, name] of [['Newsletters', 'newsletters'], ['Settings', 'settings']] as const) {
          await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label }).click();
          await page.getByRole('heading', { level: 1 }).first().waitFor();
          await check(page, name);
        }
      });
    });

    for (const javaScriptEnabled of [true, false]) {
      it(`2. a reader subscribes on the public page and confirms (JavaScript ${javaScriptEnabled ? 'on' : 'off'})`, async () => {
        const reader = await newContext(browser, { javaScriptEnabled });
        const p = await reader.newPage();
        const email = `reader-${javaScriptEnabled ? 'js' : 'nojs'}@example.com`;
        try {
          await step(`subscribe-${javaScriptEnabled}`, p, async () => {
            await p.goto(`${server.baseUrl}/`);
            await check(p, `public-home-js-${javaScriptEnabled}`, { javaScriptEnabled });
            await p.getByLabel('Email address').fill(email);
            await p.getByLabel('Name').fill('Robin Reader');
            // The form has a minimum fill time against bots: a person takes a few seconds.
            await p.waitForTimeout(2100);
            await p.getByRole('button', { name: 'Subscribe' }).click();
            await p.getByRole('heading', { name: 'Check your inbox' }).waitFor();
            await check(p, `subscribed-js-${javaScriptEnabled}`, { javaScriptEnabled });
            const link = await confirmationLink(server, email);
            await p.goto(link);
            await check(p, `confirm-js-${javaScriptEnabled}`, { javaScriptEnabled });
            await p.getByRole('button', { name: 'Yes, subscribe me' }).click();
            await p.getByRole('heading', { name: 'You are subscribed' }).waitFor();
            await check(p, `confirmed-js-${javaScriptEnabled}`, { javaScriptEnabled });
            await p.getByRole('link', { name: 'Manage your subscription' }).click();
            await p.getByRole('heading', { name: 'Your subscription' }).waitFor();
            await check(p, `preferences-js-${javaScriptEnabled}`, { javaScriptEnabled });
          });
        } finally {
          await reader.close();
        }
      });
    }

    it('2b. the embeddable form works when posted from a page on another origin', async () => {
      await page.goto(`${server.baseUrl}/admin/newsletters`);
      await page.getByRole('table').getByRole('link').first().click();
      const snippet = await page.getByLabel('Embed code').inputValue();
      const other = await serveOtherOrigin(`<!doctype html><html lang="en"><head><title>My blog</title></head><body><main><h1>My blog</h1>${snippet}</main></body></html>`);
      const reader = await newContext(browser, { javaScriptEnabled: false });
      const p = await reader.newPage();
      try {
        await step('embed', p, async () => {
          await p.goto(other.url);
          await p.getByLabel(/Subscribe to/).fill('embedded@example.com');
          await p.getByRole('button', { name: 'Subscribe' }).click();
          await p.getByRole('heading', { name: 'Check your inbox' }).waitFor();
          assert.equal(new URL(p.url()).origin, server.baseUrl);
          await p.goto(await confirmationLink(server, 'embedded@example.com'));
          await p.getByRole('button', { name: 'Yes, subscribe me' }).click();
          await p.getByRole('heading', { name: 'You are subscribed' }).waitFor();
        });
      } finally {
        await reader.close();
        await other.close();
      }
    });

    it('6. signing out; an anonymous visit to any admin page lands on the login page', async () => {
      await step('sign-out', page, async () => {
        await page.goto(`${server.baseUrl}/admin`);
        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.getByRole('heading', { name: 'Sign in' }).waitFor();
        await check(page, 'login');
        for (const path of ['/admin', '/admin/settings', '/admin/newsletters', '/admin/outbox']) {
          await page.goto(`${server.baseUrl}${path}`);
          assert.equal(new URL(page.url()).pathname, '/login', path);
        }
        await page.getByLabel('Email').fill(OWNER.email);
        await page.getByLabel('Password').fill('wrong password here');
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByText('That email and password do not match an account.').waitFor();
        await page.getByLabel('Password').fill(OWNER.password);
        await Promise.all([page.waitForURL('**/admin/outbox'), page.getByRole('button', { name: 'Sign in' }).click()]);
      });
    });

    it('every visited page is free of serious and critical accessibility violations', () => {
      assert.deepEqual(problems, []);
    });
  });
}

async function confirmationLink(server: RunningServer, to: string): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const msg = server.smtp.messages.find((m) => m.envelope.to.includes(to));
    if (msg) {
      const link = /(http:\/\/127\.0\.0\.1:\d+\/confirm\/[A-Za-z0-9_-]+)/.exec(msg.parsed?.text ?? msg.raw.toString());
      if (!link) throw new Error('confirmation mail without a link');
      return link[1]!;
    }
    if (Date.now() > deadline) throw new Error(`no confirmation mail for ${to}`);
    await server.smtp.waitFor(server.smtp.messages.length + 1, deadline - Date.now()).catch(() => {});
  }
}
