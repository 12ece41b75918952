import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import type { Browser, BrowserContext, Download, Page } from 'playwright-core';
import { DIALECTS } from '../helpers/db.js';
import type { ReceivedMessage } from '../helpers/smtp-server.js';
import { verifyDkim } from '../sending/dkim-verify.js';
import { browserMissingReason, closeJourney, journeyHelpers, newContext, openJourney, type RunningServer } from './harness.js';

/**
 * Issue 7, journeys 3 to 5 in a real browser: the writer composes, previews, tests, schedules and sends a
 * post for real (to the in-process SMTP server); readers unsubscribe from the message's List-Unsubscribe
 * link, by the page (JavaScript on and off) and by RFC 8058 one-click; the writer imports a CSV with bad
 * rows, reads the report, filters the list and exports it.
 */

const OWNER = { name: 'Wren Writer', email: 'wren@example.com', password: 'paper lanterns at dusk' };
/** Readers added through the admin form as already confirmed: one per way of unsubscribing. */
const READERS = {
  page: { email: 'ada@readers.example.net', name: 'Ada Page' },
  noJs: { email: 'bo@readers.example.net', name: 'Bo NoScript' },
  oneClick: { email: 'cy@readers.example.net', name: 'Cy OneClick' },
};
const POST = {
  subject: 'Lanterns over the harbour',
  heading: 'Notes from the quay',
  linkText: 'the tide tables',
  linkHref: 'https://example.com/tides',
  imageSrc: 'https://example.com/images/harbour.png',
  imageAlt: 'Paper lanterns reflected in the harbour at dusk',
};
const BODY = [
  `## ${POST.heading}`,
  '',
  `Hello {{ subscriber.first_name | default: "friend" }}, check [${POST.linkText}](${POST.linkHref}) before you go.`,
  '',
  `![${POST.imageAlt}](${POST.imageSrc})`,
  '',
].join('\n');
/** Three good rows, an invalid address, a duplicate (differing only in case) and a reader who unsubscribed. */
const IMPORTED = ['ivy@import.example.org', 'jon@import.example.org', 'kay@import.example.org'];
const CSV = [
  'Email Address,First Name,Last Name,city',
  'ivy@import.example.org,Ivy,Imported,Oslo',
  'jon@import.example.org,Jon,Imported,Lima',
  'not-an-email,Bad,Row,Nowhere',
  'IVY@Import.Example.org,Ivy,Again,Oslo',
  `${READERS.page.email},Ada,Page,Paris`,
  'kay@import.example.org,Kay,Imported,Kyiv',
  '',
].join('\r\n');

/** The server signs with this key: the newsletter is signed in the built DKIM worker threads. */
const DKIM = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

const skip = browserMissingReason();

for (const dialect of DIALECTS) {
  describe(`writer journeys in a real browser (${dialect})`, { skip }, () => {
    let server: RunningServer;
    let browser: Browser;
    let writer: BrowserContext;
    let page: Page;
    let postUrl = '';
    const problems: string[] = [];

    before(async () => {
      const env = { DKIM_DOMAIN: 'example.com', DKIM_SELECTOR: 'gz', DKIM_PRIVATE_KEY: DKIM.privateKey };
      ({ server, browser, writer, page } = await openJourney({ dialect, env }));
    });
    after(() => closeJourney({ browser, server }));

    const { check, step } = journeyHelpers(`${dialect}-writer`, problems);

    /** The newsletter message (not a test, not a confirmation) that reached `to`. */
    const newsletterMessageTo = (to: string): ReceivedMessage | undefined =>
      server.smtp.messages.find((m) => m.envelope.to.includes(to) && m.parsed?.subject === POST.subject);

    it('setup: the owner signs in and adds three confirmed readers', async () => {
      await step('setup', page, async () => {
        await page.goto(`${server.baseUrl}/setup`);
        await page.getByLabel('Your name').fill(OWNER.name);
        await page.getByLabel('Email').fill(OWNER.email);
        await page.getByLabel('Password').fill(OWNER.password);
        await Promise.all([page.waitForURL('**/admin'), page.getByRole('button', { name: 'Create account' }).click()]);
        for (const [i, reader] of Object.values(READERS).entries()) {
          await page.goto(`${server.baseUrl}/admin/subscribers/new`);
          if (i === 0) await check(page, 'subscriber-new');
          await page.getByLabel('Email', { exact: true }).fill(reader.email);
          await page.getByLabel('Name').fill(reader.name);
          await page.getByLabel('Already confirmed').check();
          await Promise.all([page.waitForURL(/\/admin\/subscribers\/\d+$/), page.getByRole('button', { name: 'Add subscriber' }).click()]);
          await page.getByRole('heading', { level: 1, name: reader.email }).waitFor();
          assert.equal(await page.locator('#subscriptions .badge').first().textContent(), 'active');
        }
      });
    });

    it('3. the writer writes a post in Markdown, previews it, tests, schedules, then sends it now', async () => {
      await step('compose', page, async () => {
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Posts' }).click();
        await page.getByRole('heading', { level: 1, name: 'Posts' }).waitFor();
        await check(page, 'posts-empty');
        await page.getByRole('link', { name: 'New post' }).click();
        await page.getByLabel('Subject').fill(POST.subject);
        await Promise.all([page.waitForURL(/\/admin\/posts\/\d+\/edit$/), page.getByRole('button', { name: 'Start writing' }).click()]);
        postUrl = page.url().replace(/\/edit$/, '');

        // Typing in the body autosaves (debounced) and swaps in a fresh preview out of band.
        await page.getByLabel('Body (Markdown)').fill(BODY);
        await page.locator('#save-status', { hasText: /^\s*Saved at/ }).waitFor();
        const preview = page.frameLocator('iframe.mail-preview');
        await preview.getByRole('heading', { name: POST.heading }).waitFor();
        const srcdoc = (await page.locator('iframe.mail-preview').getAttribute('srcdoc')) ?? '';
        assert.match(srcdoc, new RegExp(`<h2[^>]*>${POST.heading}</h2>`));
        assert.ok(srcdoc.includes(`href="${POST.linkHref}"`), 'the link is in the preview');
        assert.ok(srcdoc.includes(`src="${POST.imageSrc}"`) && srcdoc.includes(`alt="${POST.imageAlt}"`), 'the image and its alt text are in the preview');
        assert.ok(srcdoc.includes('Hello Wren'), 'merge fields are filled with the writer’s details');
        assert.equal(await preview.getByRole('img', { name: POST.imageAlt }).count(), 1);
        assert.equal(await preview.getByRole('link', { name: POST.linkText }).getAttribute('href'), POST.linkHref);
        await page.locator('#checks').getByText('No problems found.').waitFor();
        await check(page, 'editor');
      });

      await step('test-send', page, async () => {
        await page.getByRole('link', { name: 'Checks, test and send' }).click();
        await page.getByRole('heading', { level: 1, name: new RegExp(POST.subject) }).waitFor();
        assert.equal(await page.getByLabel('Send to').inputValue(), OWNER.email);
        await page.getByRole('button', { name: 'Send test' }).click();
        await page.locator('#test-result').getByText(`Test sent to ${OWNER.email}.`).waitFor();
        await server.smtp.waitUntil(() => server.smtp.messages.some((m) => m.envelope.to.includes(OWNER.email)), 5000, 'the test message');
        const test = server.smtp.messages.find((m) => m.envelope.to.includes(OWNER.email))!;
        assert.equal(test.parsed?.subject, `[Test] ${POST.subject}`);
        assert.ok(test.parsed?.html && test.parsed.html.includes(POST.heading), 'the test has the HTML part');
        await check(page, 'post-draft');
      });

      await step('schedule', page, async () => {
        const when = `${new Date().getUTCFullYear() + 1}-03-15T09:30`;
        await page.getByLabel('Schedule for').fill(when);
        await Promise.all([page.waitForURL(/\?scheduled=1$/), page.getByRole('button', { name: 'Schedule', exact: true }).click()]);
        await page.getByRole('status').getByText('Scheduled.').waitFor();
        assert.equal(await page.locator('h1 .status').textContent(), 'Scheduled');
        assert.match(await page.locator('#send-heading + p').innerText(), /Scheduled for .*15/);
        await check(page, 'post-scheduled');
        // Still scheduled in the list, with its time.
        await page.goto(`${server.baseUrl}/admin/posts`);
        const row = page.getByRole('row', { name: new RegExp(POST.subject) });
        assert.match(await row.innerText(), /Scheduled\s+for /);
        await check(page, 'posts-list');
        await page.goto(postUrl);
        await Promise.all([page.waitForURL(/\?unscheduled=1$/), page.getByRole('button', { name: 'Unschedule' }).click()]);
        await page.getByText('Unscheduled: the post is a draft again.').waitFor();
        assert.equal(await page.locator('h1 .status').textContent(), 'Draft');
      });

      await step('send-now', page, async () => {
        await page.getByRole('link', { name: 'Send now…' }).click();
        await page.getByRole('heading', { level: 1, name: `Send “${POST.subject}” now?` }).waitFor();
        assert.match(await page.locator('.confirm').innerText(), /It goes to 3 subscribers/);
        await check(page, 'confirm-send');
        await Promise.all([page.waitForURL(/\?started=1$/), page.getByRole('button', { name: 'Send to 3 subscribers now' }).click()]);
        // The progress fragment polls itself (htmx, every 2 s) until the send is over.
        const progress = page.locator('#sending-progress');
        await progress.getByRole('heading', { name: 'Sent', exact: true }).waitFor({ timeout: 30_000 });
        assert.match(await progress.innerText(), /3\s+of 3 sent/);
        // The heading's status badge is outside the polled fragment: the last poll reloads the page, no reload by hand.
        await page.locator('h1 .status', { hasText: 'Sent' }).waitFor();
        await page.locator('#sending-progress').getByRole('heading', { name: 'Sent', exact: true }).waitFor();
        await check(page, 'post-sent');
      });
    });

    it('4. the message has both parts and List-Unsubscribe; the page and one-click both unsubscribe', async () => {
      await server.smtp.waitUntil(() => Object.values(READERS).every((r) => newsletterMessageTo(r.email)), 10_000, 'the newsletter for every reader');
      const unsubscribeUrls: Record<string, string> = {};
      for (const [key, reader] of Object.entries(READERS)) {
        const raw = newsletterMessageTo(reader.email)!.raw;
        const dkim = verifyDkim(raw, DKIM.publicKey);
        assert.ok(dkim.ok && dkim.tags.d === 'example.com' && dkim.tags.s === 'gz', `${key}: DKIM signature verifies (${dkim.reason})`);
        const mail = await simpleParser(raw);
        assert.ok(mail.html && mail.html.includes(POST.heading) && mail.html.includes(`alt="${POST.imageAlt}"`), `${key}: HTML part`);
        assert.ok(mail.text && mail.text.includes(POST.heading) && mail.text.includes(POST.linkHref), `${key}: text part`);
        assert.ok(mail.text.includes(`Hello ${reader.name.split(' ')[0]}`), `${key}: merge fields filled per reader`);
        const header = (name: string) =>
          mail.headerLines
            .find((h) => h.key === name)
            ?.line.slice(name.length + 1)
            .replace(/\r?\n[ \t]+/g, ' ')
            .trim();
        assert.equal(header('list-unsubscribe-post'), 'List-Unsubscribe=One-Click');
        const link = /<(http[^>]+)>/.exec(header('list-unsubscribe') ?? '');
        assert.ok(link, `${key}: List-Unsubscribe has an http(s) URL`);
        assert.ok(link[1]!.startsWith(`${server.baseUrl}/unsubscribe/`), link[1]);
        unsubscribeUrls[key] = link[1]!;
      }

      // The link opened in a browser, then the button: with JavaScript on, and with it off.
      for (const [key, javaScriptEnabled] of [['page', true], ['noJs', false]] as const) {
        const reader = await newContext(browser, { javaScriptEnabled });
        const p = await reader.newPage();
        try {
          await step(`unsubscribe-js-${javaScriptEnabled}`, p, async () => {
            await p.goto(unsubscribeUrls[key]!);
            await p.getByRole('heading', { level: 1, name: 'Unsubscribe?' }).waitFor();
            await check(p, `unsubscribe-js-${javaScriptEnabled}`, { javaScriptEnabled });
            await p.getByRole('button', { name: 'Unsubscribe' }).click();
            await p.getByRole('heading', { name: 'You have been unsubscribed' }).waitFor();
            await check(p, `unsubscribed-js-${javaScriptEnabled}`, { javaScriptEnabled });
          });
        } finally {
          await reader.close();
        }
      }

      // RFC 8058 one-click, as a mailbox provider sends it: no cookies, no redirect, a 200.
      const res = await fetch(unsubscribeUrls.oneClick!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'List-Unsubscribe=One-Click',
        redirect: 'manual',
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('location'), null);
      assert.match(await res.text(), /unsubscribed/);

      await step('admin-unsubscribed', page, async () => {
        await page.goto(`${server.baseUrl}/admin/subscribers?status=unsubscribed`);
        const results = page.locator('#results');
        for (const r of Object.values(READERS)) await results.getByRole('link', { name: r.email }).waitFor();
        await results.getByRole('link', { name: READERS.page.email }).click();
        await page.getByRole('heading', { level: 1, name: READERS.page.email }).waitFor();
        assert.equal(await page.locator('#subscriptions .badge').first().textContent(), 'unsubscribed');
        await check(page, 'subscriber-unsubscribed');
        for (const r of [READERS.noJs, READERS.oneClick]) {
          await page.goto(`${server.baseUrl}/admin/subscribers?q=${encodeURIComponent(r.email)}`);
          assert.match(await page.locator('#results tbody').innerText(), /: unsubscribed/, r.email);
        }
      });
    });

    it('5. the writer imports a CSV with bad rows, reads the report, filters the list and exports it', async () => {
      await step('import', page, async () => {
        await page.goto(`${server.baseUrl}/admin/subscribers`);
        await page.getByRole('link', { name: 'Import CSV' }).click();
        await page.getByRole('heading', { level: 1, name: 'Import subscribers' }).waitFor();
        await check(page, 'import');
        await page.getByLabel('Already confirmed').check();
        await page.getByLabel('Tags to add').fill('imported');
        await page.getByLabel('CSV file').setInputFiles({ name: 'readers.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV) });
        await Promise.all([page.waitForURL(/\/admin\/subscribers\/import\/[^/]+$/), page.getByRole('button', { name: 'Upload and import' }).click()]);
        await page.getByRole('heading', { name: 'Import finished' }).waitFor({ timeout: 20_000 });
        const counts = Object.fromEntries(
          await page.locator('#import-progress dl > div').evaluateAll((divs) =>
            divs.map((d) => {
              const el = d as unknown as { querySelector(s: string): { textContent: string | null } | null };
              return [el.querySelector('dt')?.textContent?.trim(), el.querySelector('dd')?.textContent?.trim().split(/\s/)[0]];
            }),
          ),
        );
        assert.deepEqual(counts, { Subscribed: '3', Updated: '0', 'Already there, unchanged': '0', Skipped: '1', Invalid: '1', 'Duplicates in the file': '1' });
        await page.getByText('6 rows read.').waitFor();
        await check(page, 'import-finished');

        const report = await downloaded(page, page.getByRole('link', { name: 'Download the report of 3 rows not imported' }));
        const lines = report.trim().split(/\r?\n/);
        assert.equal(lines[0], 'line,email,problem');
        assert.equal(lines.length, 4, report);
        assert.match(report, /not-an-email,not a valid email address/);
        assert.match(report, /ivy@import\.example\.org,duplicate of an earlier row in this file/);
        assert.ok(report.includes(READERS.page.email), 'the unsubscribed reader is reported as skipped');
      });

      await step('filter-export', page, async () => {
        await page.getByRole('link', { name: 'See subscribers' }).click();
        await page.getByRole('heading', { level: 1, name: 'Subscribers' }).waitFor();
        // htmx is a deferred script: typing before it has bound the form would send nothing.
        await page.waitForLoadState('load');
        // Search (htmx swaps the results and pushes the URL), then narrow by status.
        await page.getByLabel('Search').fill('import.example');
        await page.waitForURL(/[?&]q=import\.example/);
        const results = page.locator('#results');
        await results.getByRole('link', { name: IMPORTED[0]! }).waitFor();
        assert.deepEqual((await results.locator('tbody tr td:nth-child(2)').allInnerTexts()).sort(), IMPORTED);
        await page.getByLabel('Status', { exact: true }).selectOption('active');
        await page.waitForURL(/[?&]status=active/);
        await results.locator('.tabs a[aria-current="page"]', { hasText: 'Active' }).waitFor();
        assert.equal(await results.locator('tbody tr').count(), 3);
        assert.equal(await results.getByText('imported', { exact: true }).count(), 3, 'the import tag is on every row');
        await check(page, 'subscribers-filtered');

        const exportLink = results.getByRole('link', { name: 'Export CSV' });
        assert.match((await exportLink.getAttribute('href')) ?? '', /q=import\.example/);
        const csv = await downloaded(page, exportLink);
        for (const email of IMPORTED) assert.ok(csv.includes(email), `${email} is exported`);
        assert.ok(!csv.includes('readers.example.net'), 'the filter applies to the export');
        assert.equal(csv.replace(/^\uFEFF/, '').trim().split(/\r?\n/).length, 1 + IMPORTED.length, csv);
        assert.match(csv, /Oslo/);
      });
    });

    it('every visited page is free of serious and critical accessibility violations', () => {
      assert.deepEqual(problems, []);
    });
  });
}

/** Clicks a download link and returns the downloaded file's text. */
async function downloaded(page: Page, link: ReturnType<Page['locator']>): Promise<string> {
  const [download]: [Download, void] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const file = await download.path();
  return readFile(file, 'utf8');
}
