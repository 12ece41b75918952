import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { DIALECTS } from '../helpers/db.js';
import {
  addConfirmedSubscriber,
  browserMissingReason,
  closeJourney,
  createOwner,
  journeyHelpers,
  newContext,
  openJourney,
  type RunningServer,
} from './harness.js';

/**
 * Issue 30 in a real browser: the writer uploads a logo and designs their newsletter on the Design page,
 * the live preview follows every change (and warns when the accent colour fails AA), then a post is sent
 * and its mail, the public home and the archive page carry the design. Each page is screenshotted at
 * desktop and phone width and audited by axe with the writer's own colours; a reader subscribes from the
 * form under the archive post (a sandboxed page, which must still let that one form through).
 */

const OWNER = { name: 'Brand Writer', email: 'brand@example.com', password: 'colours of the harbour' };
const READER = 'reader@example.org';
const ACCENT = '#8a1c4a';
const skip = browserMissingReason();

for (const dialect of DIALECTS) {
  describe(`a branded newsletter in a real browser (${dialect})`, { skip }, () => {
    let server: RunningServer;
    let browser: Browser;
    let page: Page;
    const problems: string[] = [];
    const { check, step } = journeyHelpers(`branding-${dialect}`, problems);

    before(async () => ({ server, browser, page } = await openJourney({ dialect })));
    after(() => closeJourney({ browser, server }));

    it('designs, previews, sends and shows the writer’s look everywhere, accessibly', async () => {
      let homeUrl = '';
      let designUrl = '';
      await step('setup', page, async () => {
        await createOwner(page, server.baseUrl, OWNER);
        await addConfirmedSubscriber(page, server.baseUrl, READER);
        await page.goto(`${server.baseUrl}/admin/newsletters`);
        await page.locator('table a[href^="/admin/newsletters/"]').first().click();
        homeUrl = (await page.locator('a[href*="/n/"]').first().getAttribute('href')) ?? '';
        await page.getByRole('link', { name: /^Design/ }).click();
        await page.getByRole('heading', { name: /^Design of/ }).waitFor();
        designUrl = page.url();
      });

      await step('logo', page, async () => {
        const logo = await sharp({ create: { width: 480, height: 120, channels: 4, background: { r: 138, g: 28, b: 74, alpha: 1 } } }).png().toBuffer();
        await page.setInputFiles('#f-logo', { name: 'logo.png', mimeType: 'image/png', buffer: logo });
        await Promise.all([page.waitForURL(/saved=1/), page.getByRole('button', { name: 'Upload', exact: true }).click()]);
        await page.getByRole('img', { name: /The current logo/ }).waitFor();
      });

      await step('live-preview', page, async () => {
        const emailFrame = page.locator('iframe[title="Email preview"]');
        await page.locator('input[name="theme"][value="modern"]').check();
        await page.getByLabel('Accent colour').fill('#f0e68c');
        await page.getByLabel('Accent colour').dispatchEvent('change');
        await page.getByRole('alert').filter({ hasText: 'Low contrast' }).waitFor();
        assert.match((await emailFrame.getAttribute('srcdoc')) ?? '', /#f0e68c/);
        await check(page, 'design-low-contrast');
        await page.getByLabel('Accent colour').fill(ACCENT);
        await page.getByLabel('Accent colour').dispatchEvent('change');
        await page.getByText(/Contrast of the accent against the page: [\d.]+:1/).waitFor();
        await page.getByLabel('Font (one that every mail client has)').selectOption('verdana');
        await page.getByLabel(/^Footer text/).fill('Written by the harbour, every Sunday.');
        await page.getByLabel(/^Footer text/).dispatchEvent('change');
        await page.frameLocator('iframe[title="Email preview"]').getByText('Written by the harbour, every Sunday.').waitFor();
        await Promise.all([page.waitForURL(/saved=1/), page.getByRole('button', { name: 'Save design' }).click()]);
        await check(page, 'design-saved');
        // Full-page screenshots leave sandboxed frames blank: each preview is also shown on a page of its own.
        for (const [title, name] of [['Email preview', 'design-preview-email'], ['Web page preview', 'design-preview-web']] as const) {
          const own = await (await newContext(browser)).newPage();
          await own.setContent((await page.locator(`iframe[title="${title}"]`).getAttribute('srcdoc')) ?? '', { waitUntil: 'load' });
          await own.getByText('Written by the harbour, every Sunday.').waitFor();
          await check(own, name);
          await own.close();
        }
      });

      await step('send', page, async () => {
        await page.goto(`${server.baseUrl}/admin/posts/new`);
        await page.getByLabel('Subject').fill('Tides and colours');
        await Promise.all([page.waitForURL(/\/admin\/posts\/\d+\/edit$/), page.getByRole('button', { name: 'Start writing' }).click()]);
        const postUrl = page.url().replace(/\/edit$/, '');
        await page.getByLabel('Body (Markdown)').fill('## Low tide\n\nThe boats lean on the sand. Read [the tide table](https://example.org/tides).');
        await page.locator('#save-status', { hasText: /^\s*Saved at/ }).waitFor();
        await page.goto(`${postUrl}/send`);
        await Promise.all([page.waitForURL(/\?started=1$/), page.getByRole('button', { name: 'Send to 1 subscriber now' }).click()]);
        await page.locator('#sending-progress').getByRole('heading', { name: 'Sent', exact: true }).waitFor({ timeout: 30_000 });
      });

      await step('email', page, async () => {
        await server.smtp.waitUntil(() => server.smtp.messages.some((m) => m.envelope.to.includes(READER)), 10_000, 'the post for the reader');
        const mail = server.smtp.messages.find((m) => m.envelope.to.includes(READER))!.parsed!;
        const html = String(mail.html);
        assert.match(html, new RegExp(`<img src="${server.baseUrl}/brand/[0-9a-f]{64}\\.png"`));
        assert.match(html, new RegExp(`color: ${ACCENT}`));
        assert.match(html, /Written by the harbour, every Sunday\./);
        // The mail as a mail client shows it, from the wire: its logo loads from the server.
        const mailPage = await (await newContext(browser)).newPage();
        await mailPage.setContent(html, { waitUntil: 'load' });
        const logoWidth = await mailPage.locator('img').first().evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth);
        assert.equal(logoWidth, 480, 'the logo in the mail loads');
        await check(mailPage, 'email-from-the-wire');
        await mailPage.close();
      });

      await step('public-pages', page, async () => {
        const reader = await (await newContext(browser)).newPage();
        await reader.goto(homeUrl);
        await reader.getByRole('heading', { name: 'Subscribe' }).waitFor();
        const accent = await reader.evaluate(() => (globalThis as unknown as { getComputedStyle(e: unknown): { getPropertyValue(p: string): string }; document: { documentElement: unknown } }).getComputedStyle((globalThis as unknown as { document: { documentElement: unknown } }).document.documentElement).getPropertyValue('--accent').trim());
        assert.equal(accent, ACCENT);
        assert.ok(await reader.locator('link[rel="icon"]').count(), 'a favicon from the logo');
        await check(reader, 'home');
        await reader.getByRole('link', { name: 'Tides and colours' }).click();
        await reader.getByRole('heading', { name: 'Tides and colours' }).waitFor();
        await reader.getByText('Written by the harbour, every Sunday.').waitFor();
        await check(reader, 'archive-post');
        await reader.getByLabel('Email address').fill('new.reader@example.org');
        await Promise.all([reader.waitForURL(/\/subscribe$/), reader.getByRole('button', { name: 'Subscribe' }).click()]);
        await reader.getByRole('heading', { name: /Check your inbox|Thank you/ }).waitFor();
        await check(reader, 'subscribed-from-archive');
        await reader.close();
      });
      await step('dark-palette', page, async () => {
        // The writer's dark design, with an accent that reads on it: axe audits the reader page again.
        await page.goto(designUrl);
        await page.getByLabel('Colours', { exact: true }).selectOption('dark');
        await page.getByLabel('Accent colour').fill('#f4a6c8');
        await Promise.all([page.waitForURL(/saved=1/), page.getByRole('button', { name: 'Save design' }).click()]);
        const reader = await (await newContext(browser)).newPage();
        await reader.goto(homeUrl);
        await reader.getByRole('heading', { name: 'Subscribe' }).waitFor();
        await check(reader, 'home-dark');
        await reader.close();
      });
      assert.deepEqual(problems, []);
    });
  });
}
