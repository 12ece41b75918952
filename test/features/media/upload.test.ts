import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import sharp from 'sharp';
import { MAX_IMAGE_BYTES } from '../../../src/features/media/service.js';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { makePost, postRow } from '../posts/factories.js';
import { noiseImage, pixelFloodPng, uploadImage } from './images.js';

const dataDirs: string[] = [];
after(() => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

interface Uploaded {
  url: string;
  markdown: string;
  width: number;
  height: number;
  files: Array<{ url: string; width: number; height: number; bytes: number }>;
}

for (const dialect of DIALECTS) {
  describe(`image uploads (${dialect})`, () => {
    let t: TestApp;
    let agent: Agent;
    let mediaDir: string;
    beforeEach(async () => {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'gazette-media-'));
      dataDirs.push(dataDir);
      mediaDir = path.join(dataDir, 'media');
      t = await buildTestApp(dialect, { env: { DATA_DIR: dataDir } });
      agent = await setupOwner(t);
    });
    afterEach(() => t.close());

    const stored = async () => ({
      media: (await t.db.db.selectFrom('media').selectAll().execute()).length,
      files: (await t.db.db.selectFrom('media_files').selectAll().execute()).length,
      onDisk: (() => {
        try {
          return readdirSync(mediaDir).length;
        } catch {
          return 0;
        }
      })(),
    });
    const nothingStored = async (label: string) => assert.deepEqual(await stored(), { media: 0, files: 0, onDisk: 0 }, label);
    const keyOf = (url: string) => url.slice(url.lastIndexOf('/') + 1);

    it('keeps a metadata-free original and 600 and 1200 px copies, served with immutable, nosniff headers', async () => {
      const jpeg = await noiseImage(1600, 900, 'jpeg', { exif: true });
      assert.ok((await sharp(jpeg).metadata()).exif, 'the upload carries EXIF');
      const res = await uploadImage(agent, { alt: 'A [busy] street' }, { filename: 'street.jpg', content: jpeg, contentType: 'image/jpeg' });
      assert.equal(res.statusCode, 201, res.body);
      const body = res.json() as Uploaded;
      assert.deepEqual(body.files.map((f) => [f.width, f.height]), [[1600, 900], [600, 338], [1200, 675]]);
      assert.equal(body.url, body.files[1]!.url, 'the email gets the 600 px copy');
      assert.equal(body.markdown, `![A \\[busy\\] street](${body.url})`);
      assert.match(body.url, /^http:\/\/gazette\.test\/media\/[0-9a-f]{64}\.jpg$/);
      assert.deepEqual(await stored(), { media: 1, files: 3, onDisk: 3 });

      for (const file of body.files) {
        const served = await agent.get(new URL(file.url).pathname);
        assert.equal(served.statusCode, 200);
        assert.equal(served.headers['content-type'], 'image/jpeg');
        assert.equal(served.headers['cache-control'], 'public, max-age=31536000, immutable');
        assert.equal(served.headers['x-content-type-options'], 'nosniff');
        const bytes = served.rawPayload;
        assert.equal(bytes.length, file.bytes);
        const meta = await sharp(bytes).metadata();
        assert.equal(meta.width, file.width);
        assert.equal(meta.exif, undefined, 'no EXIF (and so no GPS position) is served');
        assert.ok(!bytes.includes(Buffer.from('exif-marker-123')) && !bytes.includes(Buffer.from('Secret Photographer')));
        assert.equal(keyOf(file.url).slice(0, 64), (await import('node:crypto')).createHash('sha256').update(bytes).digest('hex'), 'named by the hash of its bytes');
      }

      const again = await uploadImage(agent, { alt: 'Same picture' }, { filename: 'again.jpg', content: jpeg });
      assert.equal((again.json() as Uploaded).url, body.url, 'the same upload is the same image');
      assert.deepEqual(await stored(), { media: 1, files: 3, onDisk: 3 });
    });

    it('keeps a narrow PNG as it is, and turns WebP into email-safe copies', async () => {
      const png = await uploadImage(agent, { alt: 'Small chart' }, { filename: 'chart.png', content: await noiseImage(400, 300, 'png') });
      assert.equal(png.statusCode, 201);
      const small = png.json() as Uploaded;
      assert.deepEqual(small.files.map((f) => f.width), [400]);
      assert.match(small.url, /\.png$/);

      const webp = await uploadImage(agent, { alt: 'Photo' }, { filename: 'photo.webp', content: await noiseImage(1300, 400, 'webp') });
      const files = (webp.json() as Uploaded).files;
      assert.deepEqual(files.map((f) => [f.width, new URL(f.url).pathname.split('.').pop()]), [[1300, 'webp'], [600, 'jpg'], [1200, 'jpg']]);
      const served = await agent.get(new URL(files[0]!.url).pathname);
      assert.equal(served.headers['content-type'], 'image/webp');
    });

    it('refuses spoofed, oversized, SVG, flooding and truncated uploads with a 4xx and stores nothing', async () => {
      const cases: Array<[string, Buffer, number, RegExp]> = [
        ['PHP named .png', Buffer.from("<?php system($_GET['c']); ?>\n"), 415, /not a PNG, JPEG, GIF or WebP/],
        ['HTML named .png', Buffer.from('<!doctype html><script>alert(document.cookie)</script>'), 415, /not a PNG, JPEG, GIF or WebP/],
        ['SVG with a script', Buffer.from('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), 415, /SVG images are refused/],
        ['a pixel flood', pixelFloodPng(60_000, 60_000), 422, /too large in pixels/],
        ['a truncated PNG', (await noiseImage(800, 600, 'png')).subarray(0, 20_000), 422, /damaged or cut short/],
        ['too large', Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(MAX_IMAGE_BYTES)]), 413, /larger than 10 MB/],
        ['empty', Buffer.alloc(0), 415, /empty/],
      ];
      for (const [label, content, status, message] of cases) {
        const res = await uploadImage(agent, { alt: 'Something' }, { filename: 'photo.png', content, contentType: 'image/png' });
        assert.equal(res.statusCode, status, `${label}: ${res.body.slice(0, 200)}`);
        assert.match((res.json() as { error: { fields: { file: string } } }).error.fields.file, message, label);
        await nothingStored(label);
      }

      // The no-JavaScript form shows the same refusal beside the field.
      const page = await uploadImage(agent, { alt: 'x' }, { filename: 'evil.png', content: Buffer.from('<svg onload="alert(1)"></svg>') }, false);
      assert.equal(page.statusCode, 415);
      assert.match(page.body, /id="f-image-file-error">SVG images are refused/);
      const noAlt = await uploadImage(agent, { alt: '  ' }, { filename: 'ok.png', content: await noiseImage(50, 50, 'png') }, false);
      assert.equal(noAlt.statusCode, 422);
      assert.match(noAlt.body, /id="f-image-alt-error">Describe the image/);
      await nothingStored('no alt text');
    });

    it('answers unknown and malformed media keys with 404', async () => {
      for (const url of ['/media/' + 'a'.repeat(64) + '.png', '/media/..%2F..%2Fetc%2Fpasswd', '/media/x.php']) {
        assert.equal((await agent.get(url)).statusCode, 404, url);
      }
    });

    it('adds the image to the post without JavaScript, blocks sending without alt text and counts the weight', async () => {
      const newsletterId = Number((await t.db.db.selectFrom('newsletters').select('id').executeTakeFirstOrThrow()).id);
      const id = await makePost(t, newsletterId, { subject: 'With a picture', slug: 'pic', body: 'Hello.' });
      const editor = await agent.get(`/admin/posts/${id}/edit`);
      assert.match(editor.body, /<form method="post" action="\/admin\/media\?_csrf=[^"]+" enctype="multipart\/form-data"/);
      assert.match(editor.body, /<input type="hidden" name="post_id" value="\d+">/);
      const res = await uploadImage(agent, { alt: 'A harbour', post_id: String(id) }, { filename: 'h.jpg', content: await noiseImage(1000, 500, 'jpeg') }, false);
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, `/admin/posts/${id}/edit?saved=1`);
      const body = (await postRow(t, id)).body;
      assert.match(body, /^Hello\.\n\n!\[A harbour\]\(http:\/\/gazette\.test\/media\/[0-9a-f]{64}\.jpg\)\n$/);
      const emailCopy = await t.db.db.selectFrom('media_files').select('bytes').where('variant', '=', 600).executeTakeFirstOrThrow();

      const show = await agent.get(`/admin/posts/${id}`);
      const weight = Number(/data-email-weight="(\d+)"/.exec(show.body)?.[1]);
      const html = Number(/HTML (\d+) KB/.exec(show.body)?.[1]);
      assert.match(show.body, /\+ 1 image /);
      assert.ok(weight > emailCopy.bytes && weight < emailCopy.bytes + (html + 1) * 1024, `weight ${weight} counts the HTML and the 600 px copy`);
      assert.doesNotMatch(show.body, /has no alt text/);

      const unlabelled = body.replace('A harbour', '');
      await t.db.db.updateTable('posts').set({ body: `${unlabelled}\n![](https://elsewhere.example/x.png)` }).where('id', '=', id).execute();
      const checks = await agent.get(`/admin/posts/${id}`);
      assert.match(checks.body, /<strong>Must fix:<\/strong> The image &quot;http:\/\/gazette\.test\/media\/[0-9a-f]+…&quot; has no alt text/);
      assert.match(checks.body, /1 image hosted elsewhere not counted/);
      const send = await agent.post(`/admin/posts/${id}/send`, {});
      assert.equal(send.statusCode, 422);
      assert.equal((await postRow(t, id)).status, 'draft');
    });
  });
}
