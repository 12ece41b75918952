import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { DIALECTS } from '../helpers/db.js';
import { browserMissingReason, closeJourney, createOwner, journeyHelpers, newContext, openJourney, type RunningServer } from './harness.js';

/**
 * Images in the post editor, in a real browser: the button uploads without leaving the page and puts the
 * Markdown where the cursor is; an image dropped on the body asks for its description first; without
 * JavaScript the same form uploads and adds the image at the end of the post.
 */

const OWNER = { name: 'Ines Images', email: 'ines@example.com', password: 'pictures of the harbour' };
const skip = browserMissingReason();

async function photo(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i += 1) raw[i] = (i * 2654435761) >>> 24;
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg().toBuffer();
}

for (const dialect of DIALECTS) {
  describe(`images in the editor, in a real browser (${dialect})`, { skip }, () => {
    let server: RunningServer;
    let browser: Browser;
    let writer: BrowserContext;
    let page: Page;
    let editUrl = '';
    const problems: string[] = [];

    before(async () => ({ server, browser, writer, page } = await openJourney({ dialect })));
    after(() => closeJourney({ browser, server }));

    const { check, step } = journeyHelpers(`${dialect}-images`, problems);
    const body = () => page.getByLabel('Body (Markdown)');

    it('the button and a drop insert the image at the cursor; the preview shows it', async () => {
      await step('upload', page, async () => {
        await createOwner(page, server.baseUrl, OWNER);
        await page.goto(`${server.baseUrl}/admin/posts/new`);
        await page.getByLabel('Subject').fill('Harbour pictures');
        await Promise.all([page.waitForURL(/\/admin\/posts\/\d+\/edit$/), page.getByRole('button', { name: 'Start writing' }).click()]);
        editUrl = page.url();
        await body().fill('Before.\n\nAfter.');
        // The cursor after "Before.": the image goes there.
        await body().evaluate((el) => (el as unknown as { setSelectionRange(a: number, b: number): void }).setSelectionRange(7, 7));

        await page.getByText('Add an image').click();
        await check(page, 'editor-images');
        await page.getByLabel('Image', { exact: true }).setInputFiles({ name: 'harbour.jpg', mimeType: 'image/jpeg', buffer: await photo(1300, 800) });
        await page.getByLabel('Description (alt text)').fill('Boats in the harbour');
        await page.getByRole('button', { name: 'Upload and add to the post' }).click();
        await page.locator('[data-image-status]').getByText('Added.').waitFor();
        const text = await body().inputValue();
        assert.match(text, /^Before\.\n\n!\[Boats in the harbour\]\(http:\/\/127\.0\.0\.1:\d+\/media\/[0-9a-f]{64}\.jpg\)\n\nAfter\.$/);
        assert.equal(page.url(), editUrl, 'the page was not left');
        const src = /\((http:[^)]+)\)/.exec(text)![1]!;
        // Autosave sends the new body; the preview swaps in with the image.
        await page.waitForFunction(`(document.querySelector('iframe.mail-preview').getAttribute('srcdoc') || '').includes(${JSON.stringify(`src="${src}"`)})`);
        const srcdoc = (await page.locator('iframe.mail-preview').getAttribute('srcdoc')) ?? '';
        assert.ok(srcdoc.includes(`src="${src}"`) && srcdoc.includes('alt="Boats in the harbour"'));

        const served = await page.request.get(src);
        assert.equal(served.status(), 200);
        assert.equal(served.headers()['content-type'], 'image/jpeg');
        assert.equal(served.headers()['cache-control'], 'public, max-age=31536000, immutable');
        assert.equal((await sharp(await served.body()).metadata()).width, 600);

        // A drop on the body asks for the description, then inserts.
        page.once('dialog', (d) => void d.accept('A lighthouse'));
        const bytes = [...(await photo(200, 120))];
        // The page's own DOM types are not the test's (no DOM lib here): the drop is built from source.
        await page.evaluate(`((data) => {
          const el = document.getElementById('f-body');
          el.setSelectionRange(0, 0);
          const transfer = new DataTransfer();
          transfer.items.add(new File([new Uint8Array(data)], 'lighthouse.jpg', { type: 'image/jpeg' }));
          el.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
        })(${JSON.stringify(bytes)})`);
        await page.waitForFunction(`document.getElementById('f-body').value.startsWith('![A lighthouse](')`);
      });
    });

    it('without JavaScript, the form uploads and adds the image at the end of the post', async () => {
      const noJs = await newContext(browser, { javaScriptEnabled: false });
      const p = await noJs.newPage();
      try {
        await step('no-js', p, async () => {
          await p.context().addCookies(await writer.cookies());
          await p.goto(editUrl);
          await p.getByText('Add an image').click();
          await p.getByLabel('Image', { exact: true }).setInputFiles({ name: 'x.jpg', mimeType: 'image/jpeg', buffer: await photo(200, 100) });
          await p.getByLabel('Description (alt text)').fill('A small boat');
          await Promise.all([p.waitForURL(/\/edit\?saved=1$/), p.getByRole('button', { name: 'Upload and add to the post' }).click()]);
          assert.match(await p.getByLabel('Body (Markdown)').inputValue(), /!\[A small boat\]\(http:\/\/127\.0\.0\.1:\d+\/media\/[0-9a-f]{64}\.jpg\)\n?$/);
        });
      } finally {
        await noJs.close();
      }
      assert.deepEqual(problems, []);
    });
  });
}
