import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { buildTestApp, OWNER, setupOwner, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { browserMissingReason, freePort, inspectPage, keepFailure, launchBrowser, newContext } from '../../e2e/harness.js';
import { makeNewsletter, makePost, makeTag } from './factories.js';

/**
 * The writing flow in Chromium against the app in this process: autosave and the unsaved-changes
 * warning (public/posts.js), the preview's tabs and sandbox, the post page, and the archive's CSP
 * sandbox. Pages are screenshotted at desktop and phone sizes and checked with axe.
 */
const skip = browserMissingReason();

for (const dialect of DIALECTS) {
  describe(`writing in a real browser (${dialect})`, { skip }, () => {
    let t: TestApp;
    let browser: Browser;
    let page: Page;
    let base: string;
    let newsletterId: number;
    const problems: string[] = [];

    before(async () => {
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      t = await buildTestApp(dialect, { env: { BASE_URL: base } });
      t.clock.set(Date.now());
      await t.app.listen({ port, host: '127.0.0.1' });
      await setupOwner(t);
      newsletterId = (await makeNewsletter(t, { name: 'Field Notes', slug: 'field-notes', time_zone: 'Europe/Paris' })).id;
      await makeTag(t, 'friends');
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

    async function check(name: string) {
      for (const v of await inspectPage(page, `posts-${dialect}-${name}`)) {
        problems.push(`${name}: ${v.id} (${v.impact}) ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      }
    }

    async function step(name: string, fn: () => Promise<void>) {
      try {
        await fn();
      } catch (err) {
        await keepFailure(page, `posts-${dialect}-${name}`);
        throw err;
      }
    }

    it('writes a post: new → editor → autosave → live preview → unsaved-changes warning', async () => {
      await step('write', async () => {
        await page.goto(`${base}/admin/posts`);
        await check('list-empty');
        await page.getByRole('link', { name: 'New post' }).click();
        await page.getByLabel('Newsletter').selectOption({ label: 'Field Notes' });
        await page.getByLabel('Subject').fill('Spring notes');
        await Promise.all([page.waitForURL(/\/admin\/posts\/\d+\/edit$/), page.getByRole('button', { name: 'Start writing' }).click()]);
        await check('editor');

        const saved = page.waitForResponse((r) => r.url().endsWith('/autosave') && r.status() === 200);
        await page.getByLabel('Body (Markdown)').fill('Hello {{ subscriber.name | default: "friend" }}!\n\n## The garden\n\nTulips *everywhere*.');
        await saved;
        await page.locator('#save-status', { hasText: /^Saved at \d\d:\d\d:\d\d/ }).waitFor();
        const preview = page.frameLocator('iframe.mail-preview');
        await preview.getByRole('heading', { name: 'The garden' }).waitFor();
        await preview.getByText(`Hello ${OWNER.name}!`).waitFor();
        // The preview runs in an opaque origin: it cannot reach the admin's cookies or pages.
        const frame = page.frames().find((f) => f !== page.mainFrame());
        assert.equal(await frame?.evaluate(() => (globalThis as unknown as { origin: string }).origin), 'null');
        assert.equal(await page.locator('iframe.mail-preview').getAttribute('sandbox'), '');

        await page.getByText('Plain text', { exact: true }).click();
        assert.equal(await page.locator('iframe.mail-preview').isVisible(), false);
        assert.match((await page.locator('.pv-text-pane').textContent()) ?? '', /Tulips everywhere\./);
        await page.getByText('HTML', { exact: true }).click();
        await page.getByText('Phone', { exact: true }).click();
        const width = (await page.locator('iframe.mail-preview').boundingBox())?.width ?? 0;
        assert.ok(width <= 375 && width > 300, `narrow preview is ${width}px wide`);

        // Typing and leaving before autosave runs asks first; after a save it does not.
        let dialogs = 0;
        page.on('dialog', (d) => {
          dialogs += 1;
          void d.dismiss();
        });
        await page.getByLabel('Subject').press('End');
        await page.getByLabel('Subject').pressSequentially(' and more', { delay: 5 });
        await page.goto(`${base}/admin`).catch(() => undefined);
        assert.equal(dialogs, 1);
        assert.match(page.url(), /\/edit$/);
        await page.locator('#f-slug[value="spring-notes-and-more"]').waitFor();
        await page.getByRole('button', { name: 'Save' }).click();
        await page.waitForURL(/\?saved=1$/);
        assert.equal(dialogs, 1);
        const row = await t.db.db.selectFrom('posts').selectAll().executeTakeFirstOrThrow();
        assert.equal(row.subject, 'Spring notes and more');
        assert.equal(row.slug, 'spring-notes-and-more');
      });
    });

    it('uses the post page: checks, audience count and a test send', async () => {
      await step('post-page', async () => {
        await page.getByRole('link', { name: 'Checks, test and send' }).click();
        await page.getByRole('heading', { name: 'Before you send' }).waitFor();
        await page.getByText('No problems found.').waitFor();
        await page.getByText(/It goes to 0 subscribers/).waitFor();
        await check('post-page');
        await page.getByLabel('Send to').fill('first@example.com, second@example.com');
        await page.getByRole('button', { name: 'Send test' }).click();
        await page.getByText('Test sent to first@example.com, second@example.com.').waitFor();
        assert.deepEqual(t.mailer.sent.map((m) => m.to), ['first@example.com', 'second@example.com']);
        assert.equal(t.mailer.sent[0]?.subject, '[Test] Spring notes and more');
      });
    });

    it('shows a sent post on the web in a sandboxed, script-free page', async () => {
      await step('archive', async () => {
        await makePost(t, newsletterId, {
          slug: 'first',
          subject: 'The first issue',
          body: 'Welcome, {{ subscriber.name | default: "reader" }}.\n\n<img src=x onerror="document.title=\'pwned\'">',
          status: 'sent',
          sent_at: Date.now(),
        });
        // A context that enforces CSP (the axe one bypasses it): the page is an opaque, script-free origin.
        const reader = await (await browser.newContext()).newPage();
        const response = await reader.goto(`${base}/n/field-notes/archive/first`);
        assert.match(String(response?.headers()['content-security-policy']), /^sandbox /);
        await reader.getByRole('heading', { name: 'The first issue' }).waitFor();
        await reader.getByText('Welcome, reader.').waitFor();
        assert.equal(await reader.evaluate(() => (globalThis as unknown as { origin: string }).origin), 'null');
        assert.equal(await reader.title(), 'The first issue · Field Notes');
        await reader.context().close();
        await page.goto(`${base}/n/field-notes/archive/first`);
        await check('archive');
        assert.deepEqual(problems, []);
      });
    });
  });
}
