import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserMissingReason, closeJourney, journeyHelpers, newContext, openJourney, type RunningServer } from './harness.js';

/**
 * Issue 27 in a real browser: the writer checks a draft's links from the post page and sees each result
 * arrive on its own (the target site holds two answers until the test lets them go, so the order is the
 * test's, not the network's); without JavaScript the same button shows the finished table; the send page
 * then warns about the broken link.
 */

const OWNER = { name: 'Lin Checker', email: 'lin@example.com', password: 'every link before it goes' };
const skip = browserMissingReason();

/** A site on loopback whose /held/* answers wait until released; every other path answers at once. */
async function startHeldSite(): Promise<{ url: string; release(path: string): void; close(): Promise<void> }> {
  const gates = new Map<string, { open: Promise<void>; release: () => void }>();
  const gate = (path: string) => {
    let entry = gates.get(path);
    if (!entry) {
      let release = () => {};
      const open = new Promise<void>((r) => (release = r));
      entry = { open, release };
      gates.set(path, entry);
    }
    return entry;
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const answer = () => res.writeHead(path.endsWith('/missing') ? 404 : 200, { 'content-type': 'text/plain' }).end('ok');
    if (path.startsWith('/held/')) void gate(path).open.then(answer);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    release: (path) => gate(path).release(),
    async close() {
      for (const g of gates.values()) g.release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('link checks in a real browser (sqlite)', { skip }, () => {
  let server: RunningServer;
  let site: Awaited<ReturnType<typeof startHeldSite>>;
  let browser: Browser;
  let writer: BrowserContext;
  let page: Page;
  let postUrl = '';
  const problems: string[] = [];

  before(async () => {
    site = await startHeldSite();
    // The site is on loopback, so the intranet setting is on; the long deadline keeps held answers from timing out.
    ({ server, browser, writer, page } = await openJourney({ dialect: 'sqlite', relay: false, env: { LINK_CHECK_ALLOW_PRIVATE: 'true', LINK_CHECK_TIMEOUT: '60' } }));
  });
  after(async () => {
    await closeJourney({ browser, server });
    await site?.close();
  });

  const { check, step } = journeyHelpers('links-sqlite', problems);
  const row = (p: Page, path: string) => p.locator('#links-table tr', { has: p.locator(`a[href="${site.url}${path}"]`) });

  it('results appear one by one on the post page, with JavaScript', async () => {
    await step('compose', page, async () => {
      await page.goto(`${server.baseUrl}/setup`);
      await page.getByLabel('Your name').fill(OWNER.name);
      await page.getByLabel('Email').fill(OWNER.email);
      await page.getByLabel('Password').fill(OWNER.password);
      await Promise.all([page.waitForURL('**/admin'), page.getByRole('button', { name: 'Create account' }).click()]);
      await page.goto(`${server.baseUrl}/admin/posts/new`);
      await page.getByLabel('Subject').fill('Links worth a click');
      await Promise.all([page.waitForURL(/\/admin\/posts\/\d+\/edit$/), page.getByRole('button', { name: 'Start writing' }).click()]);
      postUrl = page.url().replace(/\/edit$/, '');
      await page.getByLabel('Body (Markdown)').fill(
        [`Read [the notes](${site.url}/fine), [the archive](${site.url}/held/missing) and [the map](${site.url}/held/map).`, '', '[Write back](mailto:lin@example.com)'].join('\n'),
      );
      await page.locator('#save-status', { hasText: /^\s*Saved at/ }).waitFor();
    });

    await step('check-progressively', page, async () => {
      await page.goto(postUrl);
      await page.locator('#links-panel').getByRole('button', { name: 'Check links' }).click();
      // The first answer is in while the two held ones are still being checked.
      await row(page, '/fine').locator('.link-status', { hasText: 'OK' }).waitFor();
      assert.equal(await row(page, '/held/missing').locator('.link-status').innerText(), 'Checking…');
      assert.equal(await row(page, '/held/map').locator('.link-status').innerText(), 'Checking…');
      assert.equal(await page.locator('#links-table tr', { hasText: 'mailto:lin@example.com' }).locator('.link-status').innerText(), 'Valid');

      site.release('/held/missing');
      await row(page, '/held/missing').locator('.link-status', { hasText: 'Broken' }).waitFor();
      assert.equal(await row(page, '/held/map').locator('.link-status').innerText(), 'Checking…', 'the map is still on its way');

      site.release('/held/map');
      await row(page, '/held/map').locator('.link-status', { hasText: 'OK' }).waitFor();
      await page.locator('#links-summary', { hasText: '1 will not work.' }).waitFor();
      assert.doesNotMatch(await page.locator('#links-summary').innerText(), /not checked yet/);
      await check(page, 'post-page-links');
    });

    await step('send-warning', page, async () => {
      await page.goto(`${postUrl}/send`);
      await page.getByText(/The last link check found .*\/held\/missing” broken/).waitFor();
      await page.getByRole('button', { name: 'Send anyway to 0 subscribers now' }).waitFor();
      await check(page, 'send-confirm');
    });
  });

  it('without JavaScript, the same button shows the finished table', async () => {
    const noJs = await newContext(browser, { javaScriptEnabled: false });
    const p = await noJs.newPage();
    try {
      await step('no-js', p, async () => {
        await p.goto(`${server.baseUrl}/login`);
        await p.getByLabel('Email').fill(OWNER.email);
        await p.getByLabel('Password').fill(OWNER.password);
        await Promise.all([p.waitForURL('**/admin'), p.getByRole('button', { name: 'Sign in' }).click()]);
        await p.goto(postUrl);
        await Promise.all([p.waitForURL(/\/links\?checked=1$/), p.locator('#links-panel').getByRole('button', { name: 'Check links' }).click()]);
        await p.getByRole('status').getByText('Links checked.').waitFor();
        assert.equal(await row(p, '/held/missing').locator('.link-status').innerText(), 'Broken');
        assert.equal(await row(p, '/fine').locator('.link-status').innerText(), 'OK');
        assert.equal(await p.locator('#links-table tr[data-link-state="checking"]').count(), 0);
        await check(p, 'links-page-no-js', { javaScriptEnabled: false });
      });
    } finally {
      await noJs.close();
    }
    // The same page with JavaScript on, for the accessibility audit.
    await page.goto(`${postUrl}/links`);
    await check(page, 'links-page');
    assert.deepEqual(problems, []);
  });
});
