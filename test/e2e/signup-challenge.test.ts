import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { browserMissingReason, closeJourney, journeyHelpers, newContext, openJourney, type RunningServer } from './harness.js';

const OWNER = { name: 'Ada Author', email: 'ada@example.com', password: 'kites over the harbour' };
const skip = browserMissingReason();

/**
 * Attack mode in a real browser: the page carries the ALTCHA widget served from our own origin, Chromium
 * solves the proof of work in its workers under the page's policy, and the sign-up goes through.
 */
describe('signup challenge in a real browser', { skip }, () => {
  let server: RunningServer;
  let browser: Browser;
  const problems: string[] = [];
  const { check, step } = journeyHelpers('challenge', problems);

  before(async () => ({ server, browser } = await openJourney({ dialect: 'sqlite', env: { SIGNUP_ATTACK_THRESHOLD: '2' } })));
  after(() => closeJourney({ browser, server }));

  it('a flood switches attack mode on; a reader whose browser solves the challenge subscribes', async () => {
    const writer = await newContext(browser);
    const page = await writer.newPage();
    await page.goto(`${server.baseUrl}/`);
    await page.getByLabel('Your name').fill(OWNER.name);
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByLabel('Password').fill(OWNER.password);
    await Promise.all([page.waitForURL('**/admin'), page.getByRole('button', { name: 'Create account' }).click()]);
    await writer.close();

    // Three sign-ups in a minute, over the threshold of two: the next one needs the challenge.
    for (let i = 0; i < 3; i++) {
      await fetch(`${server.baseUrl}/n/newsletter/subscribe`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ email: `flood${i}@example.com` }) });
    }

    const reader = await newContext(browser);
    const p = await reader.newPage();
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(String(e)));
    p.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    try {
      await step('solve', p, async () => {
        await p.goto(`${server.baseUrl}/`);
        await p.locator('altcha-widget').waitFor();
        await check(p, 'attack-mode-form');
        // The widget fills its hidden field once the proof of work is solved (auto="onload").
        await p.locator('input[name="altcha"]').waitFor({ state: 'attached', timeout: 30_000 });
        await p.waitForFunction(`(document.querySelector('input[name="altcha"]')?.value ?? '').length > 20`, undefined, { timeout: 30_000 });
        await p.getByLabel('Email address').fill('solver@example.com');
        await p.waitForTimeout(2100);
        await p.getByRole('button', { name: 'Subscribe' }).click();
        await p.getByRole('heading', { name: 'Check your inbox' }).waitFor();
        await check(p, 'subscribed');
      });
      assert.deepEqual(errors.filter((e) => /Content Security Policy|Refused/.test(e)), [], 'the page policy lets the widget work');
      assert.deepEqual(problems, [], 'no serious accessibility violations on the page with the widget');
    } finally {
      await reader.close();
    }
  });
});
