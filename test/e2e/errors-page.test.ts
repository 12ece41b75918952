import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { connectDatabase, type DbHandle } from '../../src/db/connect.js';
import { browserMissingReason, closeJourney, journeyHelpers, newContext, openJourney, type RunningServer } from './harness.js';

/**
 * The writer finds the Errors page from Settings in a real browser, with and without JavaScript, at
 * desktop and phone sizes, and axe finds nothing serious on it. The errors are written into the running
 * server's database (a request that fails on purpose has no place in the product).
 */

const OWNER = { name: 'Erin Errors', email: 'erin@example.com', password: 'errors before readers see them' };
const skip = browserMissingReason();

describe('the Errors page in a real browser (sqlite)', { skip }, () => {
  let server: RunningServer;
  let database: DbHandle;
  let browser: Browser;
  let writer: BrowserContext;
  let page: Page;
  const problems: string[] = [];
  const { check, step } = journeyHelpers('errors-sqlite', problems);

  before(async () => ({ server, browser, writer, page } = await openJourney({ dialect: 'sqlite', relay: false })));
  after(async () => {
    await database?.close();
    await closeJourney({ browser, server });
  });

  it('lists recent errors and job failures, reached from Settings', async () => {
    await step('setup', page, async () => {
      await page.goto(`${server.baseUrl}/setup`);
      await page.getByLabel('Your name').fill(OWNER.name);
      await page.getByLabel('Email').fill(OWNER.email);
      await page.getByLabel('Password').fill(OWNER.password);
      await Promise.all([page.waitForURL('**/admin'), page.getByRole('button', { name: 'Create account' }).click()]);
    });
    await step('empty', page, async () => {
      await page.goto(`${server.baseUrl}/admin/settings`);
      await page.getByRole('link', { name: 'Errors' }).click();
      await page.waitForURL(/\/admin\/errors$/);
      assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Errors');
      assert.ok(await page.getByText('No errors recorded.').isVisible());
    });

    // The server keeps its SQLite file in its data folder; WAL lets this connection write beside it.
    database = await connectDatabase({ kind: 'sqlite', file: path.join(server.dataDir, 'gazette.db') });
    const now = Date.now();
    await database.db
      .insertInto('error_reports')
      .values([
        { occurred_at: now - 60_000, source: 'request', request_id: '0a1b2c3d4e5f', method: 'POST', route: '/admin/posts/:id/send', status: 500, job: null, error_type: 'Error', message: 'relay said no to [email]', stack: `Error: relay said no to [email]\n${'    at somewhere (file.ts:1:1)\n'.repeat(30)}` },
        { occurred_at: now, source: 'job', request_id: null, method: null, route: null, status: null, job: 'sending-housekeeping', error_type: 'TypeError', message: 'cannot read properties of undefined', stack: null },
      ])
      .execute();
    await database.db
      .insertInto('job_runs')
      .values({ job: 'sending-housekeeping', trigger: 'schedule', scheduled_for: now, status: 'error', runner: 'test', started_at: now, finished_at: now + 1200, duration_ms: 1200, error: 'cannot read properties of undefined' })
      .execute();

    await step('listed', page, async () => {
      await page.reload();
      assert.ok(await page.getByText('POST /admin/posts/:id/send (500)').isVisible());
      assert.ok(await page.getByText('0a1b2c3d4e5f').isVisible());
      assert.ok(await page.getByRole('cell', { name: 'sending-housekeeping' }).isVisible());
      await page.getByText('Stack trace').click();
      assert.ok(await page.locator('pre').first().isVisible());
      await check(page, 'errors');
    });

    await step('no-js', page, async () => {
      const plain = await newContext(browser, { javaScriptEnabled: false });
      await plain.addCookies(await writer.cookies());
      const p = await plain.newPage();
      await p.goto(`${server.baseUrl}/admin/errors`);
      assert.ok(await p.getByText('cannot read properties of undefined').first().isVisible());
      await check(p, 'errors-no-js', { javaScriptEnabled: false });
      await plain.close();
    });
    assert.deepEqual(problems, []);
  });
});
