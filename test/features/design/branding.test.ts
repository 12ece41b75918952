import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import sharp from 'sharp';
import type { NewsletterRow } from '../../../src/db/tables/newsletters.js';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { pixelFloodPng } from '../../helpers/png.js';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp-server.js';
import { makeNewsletter, makePost, makeSubscriber } from '../posts/factories.js';
import { lastConfirmPath } from '../readers/helpers.js';

const DESIGN = {
  theme: 'modern',
  accent_color: '#8a1c4a',
  palette: 'light',
  font: 'verdana',
  footer_text: 'Written in Lisbon by Olive.',
  web_css: '.content h2 { color: #123456; } @import url("https://evil.example/x.css");',
  email_css: '.content h2 { color: #654321; } a { background: url(javascript:alert(1)); }',
};

/** A multipart body with one file under `logo`, as a browser's upload form sends it. */
export function logoForm(content: Buffer, filename = 'logo.png', contentType = 'image/png') {
  const boundary = '----gazette-logo-boundary';
  const payload = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="logo"; filename="${filename}"\r\nContent-Type: ${contentType}\r\n\r\n`),
    content,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { payload, contentType: `multipart/form-data; boundary=${boundary}` };
}

export function uploadLogo(agent: Agent, newsletterId: number, content: Buffer, filename?: string, contentType?: string) {
  const form = logoForm(content, filename, contentType);
  return agent.request('POST', `/admin/newsletters/${newsletterId}/logo?_csrf=${encodeURIComponent(agent.csrfToken ?? '')}`, form.payload, {
    'content-type': form.contentType,
    origin: 'http://gazette.test',
    'sec-fetch-site': 'same-origin',
  });
}

export const redSquarePng = () => sharp({ create: { width: 400, height: 200, channels: 4, background: { r: 200, g: 30, b: 60, alpha: 1 } } }).png().toBuffer();

for (const dialect of DIALECTS) {
  describe(`branding on reader pages and in mail (${dialect})`, () => {
    let t: TestApp;
    let admin: Agent;
    let smtp: TestSmtpServer;
    let dataDir: string;
    let n: NewsletterRow;

    beforeEach(async () => {
      dataDir = mkdtempSync(path.join(os.tmpdir(), 'gazette-design-'));
      smtp = await startSmtpServer();
      t = await buildTestApp(dialect, { env: { DATA_DIR: dataDir, SMTP_URL: smtp.url } });
      admin = await setupOwner(t);
      n = await makeNewsletter(t, { slug: 'harbour', name: 'Harbour Notes', double_opt_in: 1 });
    });
    afterEach(async () => {
      await t.close();
      await smtp.close();
      rmSync(dataDir, { recursive: true, force: true });
    });

    async function saveDesign(extra: Record<string, string> = {}) {
      await admin.get(`/admin/newsletters/${n.id}/design`);
      return admin.post(`/admin/newsletters/${n.id}/design`, { ...DESIGN, ...extra });
    }

    it('stores the design with sanitised CSS and tells the writer what was removed', async () => {
      const res = await saveDesign();
      assert.equal(res.statusCode, 200, 'saved, with the removals shown');
      assert.match(res.body, /Saved\./);
      assert.match(res.body, /these parts were removed/);
      assert.match(res.body, /@import url\(&quot;https:\/\/evil\.example\/x\.css&quot;\)/);
      const row = await t.db.db.selectFrom('newsletters').selectAll().where('id', '=', n.id).executeTakeFirstOrThrow();
      assert.equal(row.theme, 'modern');
      assert.equal(row.accent_color, '#8a1c4a');
      assert.equal(row.palette, 'light');
      assert.equal(row.font, 'verdana');
      assert.equal(row.footer_text, 'Written in Lisbon by Olive.');
      assert.equal(row.web_css, '.content h2 { color: #123456; }');
      assert.equal(row.email_css, '.content h2 { color: #654321; }');

      const clean = await admin.post(`/admin/newsletters/${n.id}/design`, { ...DESIGN, web_css: '', email_css: '' });
      assert.equal(clean.statusCode, 303);
      assert.equal(clean.headers.location, `/admin/newsletters/${n.id}/design?saved=1`);
    });

    it('refuses bad values with the message beside the field and stores nothing', async () => {
      await admin.get(`/admin/newsletters/${n.id}/design`);
      for (const [field, value, message] of [
        ['accent_color', 'red', /six hexadecimal digits/],
        ['accent_color', '#12345g', /six hexadecimal digits/],
        ['theme', 'brutalist', /Choose a theme/],
        ['palette', 'sepia', /light, dark or automatic/],
        ['font', 'Comic Sans', /font from the list/],
        ['web_css', 'a{}'.repeat(7000), /at most 20,000 characters/],
      ] as const) {
        const res = await admin.post(`/admin/newsletters/${n.id}/design`, { ...DESIGN, [field]: value });
        assert.equal(res.statusCode, 422, `${field}=${value.slice(0, 20)}`);
        assert.match(res.body, message);
      }
      const row = await t.db.db.selectFrom('newsletters').select(['theme', 'accent_color']).where('id', '=', n.id).executeTakeFirstOrThrow();
      assert.deepEqual(row, { theme: 'classic', accent_color: '#1f5fbf' });
    });

    it('carries the name, colours, font, footer, CSS and favicon on every reader page', async () => {
      await saveDesign();
      assert.equal((await uploadLogo(admin, n.id, await redSquarePng())).statusCode, 303);
      const logo = (await t.db.db.selectFrom('newsletters').select('logo_file').where('id', '=', n.id).executeTakeFirstOrThrow()).logo_file!;
      const postId = await makePost(t, n.id, { slug: 'first', subject: 'First issue', body: '## Hello\n\nWelcome aboard.' });
      await t.db.db.updateTable('posts').set({ status: 'sent', sent_at: t.clock.now() }).where('id', '=', postId).execute();

      const reader = t.agent();
      const branded = (html: string, page: string) => {
        assert.match(html, /--accent: #8a1c4a;/, `${page}: accent`);
        assert.match(html, /font-family: Verdana, Geneva, sans-serif;/, `${page}: font`);
        assert.match(html, /\.content h2 \{ color: #123456; \}/, `${page}: custom CSS`);
        assert.doesNotMatch(html, /evil\.example/, `${page}: no removed CSS`);
        assert.match(html, new RegExp(`<link rel="icon" type="image/png" href="/brand/${logo.replace('.png', '-icon.png')}">`), `${page}: favicon`);
        assert.match(html, /Written in Lisbon by Olive\./, `${page}: footer`);
        assert.match(html, /Harbour Notes/, `${page}: name`);
        assert.match(html, new RegExp(`src="/brand/${logo}"`), `${page}: logo`);
      };

      const home = await reader.get('/n/harbour');
      branded(home.body, 'home');
      assert.match(home.body, /action="\/n\/harbour\/subscribe"/);

      const archive = await reader.get('/n/harbour/archive/first');
      assert.equal(archive.statusCode, 200);
      branded(archive.body, 'archive');
      assert.match(archive.body, /<form method="post" action="http:\/\/gazette\.test\/n\/harbour\/subscribe">/, 'a subscribe form under the post');
      const csp = String(archive.headers['content-security-policy']);
      assert.match(csp, /form-action http:\/\/gazette\.test/);
      assert.match(csp, /sandbox allow-forms/);

      // The archive's form posts as an embed would (from the sandboxed page, no cookie, no form token).
      const joined = await t.agent().post('/n/harbour/subscribe', { email: 'sandy@example.com', source: 'embed', website: '' }, { 'sec-fetch-site': 'cross-site', origin: 'null' });
      assert.equal(joined.statusCode, 200);
      branded(joined.body, 'subscribed message');

      const confirm = await reader.get(lastConfirmPath(t));
      branded(confirm.body, 'confirm');
      await reader.post(lastConfirmPath(t), {});

      const token = (await t.db.db.selectFrom('subscribers').select('token').where('email', '=', 'sandy@example.com').executeTakeFirstOrThrow()).token;
      const unsubscribe = await reader.get(`/unsubscribe/${token}?n=harbour`);
      branded(unsubscribe.body, 'unsubscribe');
      assert.match(unsubscribe.body, /<h1>Unsubscribe from Harbour Notes\?<\/h1>/);
      const preferences = await reader.get(`/preferences/${token}`);
      branded(preferences.body, 'preferences');
      const done = await reader.post(`/unsubscribe/${token}?n=harbour`, {}, { accept: 'text/html' });
      branded(done.body, 'unsubscribed');
      assert.match(done.body, /You have been unsubscribed from Harbour Notes/);

      // Another newsletter keeps Gazette's own look.
      const other = await makeNewsletter(t, { slug: 'plain-one' });
      const otherHome = await reader.get(`/n/${other.slug}`);
      assert.doesNotMatch(otherHome.body, /#8a1c4a|Lisbon|rel="icon"/);
    });

    it('sends the design in a real mail: colours, font, footer, logo and email CSS inlined', async () => {
      await saveDesign();
      await uploadLogo(admin, n.id, await redSquarePng());
      const logo = (await t.db.db.selectFrom('newsletters').select('logo_file').where('id', '=', n.id).executeTakeFirstOrThrow()).logo_file!;
      await makeSubscriber(t, n.id, { email: 'reader@example.com' });
      const postId = await makePost(t, n.id, { subject: 'Designed issue', body: '## A heading\n\nSee [the site](https://example.com).' });
      await t.sending.startPost(postId);
      await t.sending.runOnce();
      await smtp.waitFor(1);
      const mail = smtp.messages[0]!.parsed!;
      const html = String(mail.html);
      assert.match(html, new RegExp(`<img src="http://gazette\\.test/brand/${logo}" width="200" height="100" alt="Harbour Notes"`));
      assert.match(html, /<a href="https:\/\/example\.com"[^>]*style="[^"]*color: #8a1c4a/, 'links in the accent colour, inlined');
      assert.match(html, /<h2 style="[^"]*color: #654321/, 'the writer’s email CSS, inlined');
      assert.match(html, /font-family: Verdana, Geneva, sans-serif/);
      assert.match(html, /border-top: 4px solid #8a1c4a/, 'the modern theme');
      assert.doesNotMatch(html, /prefers-color-scheme: dark/, 'a light palette has no dark variant');
      assert.doesNotMatch(html, /javascript/);
      assert.match(html, /Written in Lisbon by Olive\./);
      assert.match(String(mail.text), /Written in Lisbon by Olive\./);

      // The writer's preview of a draft renders as the send does: the logo from the server's address.
      const draft = await makePost(t, n.id, { subject: 'Next issue' });
      assert.match((await admin.get(`/admin/posts/${draft}/edit`)).body, new RegExp(`srcdoc="[^"]*http://gazette\\.test/brand/${logo}`));

      const res = await t.agent().get(`/brand/${logo}`);
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'image/png');
      assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      const meta = await sharp(res.rawPayload).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['png', 400, 200]);
      const icon = await sharp((await t.agent().get(`/brand/${logo.replace('.png', '-icon.png')}`)).rawPayload).metadata();
      assert.deepEqual([icon.width, icon.height], [64, 64]);

      // Removing the logo takes it off the pages; the file stays for the mail already sent.
      await admin.get(`/admin/newsletters/${n.id}/design`);
      assert.equal((await admin.post(`/admin/newsletters/${n.id}/logo/delete`)).statusCode, 303);
      assert.doesNotMatch((await t.agent().get('/n/harbour')).body, /\/brand\//);
      assert.equal((await t.agent().get(`/brand/${logo}`)).statusCode, 200);
    });

    it('refuses spoofed, oversized, scripted and pixel-flood logos and stores nothing', async () => {
      await admin.get(`/admin/newsletters/${n.id}/design`);
      const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>');
      const html = Buffer.from('<!doctype html><script>alert(1)</script>');
      const big = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(2 * 1024 * 1024 + 10)]);
      const cases: Array<[string, Buffer, string, string, number, RegExp]> = [
        ['SVG with script', svg, 'logo.svg', 'image/svg+xml', 422, /SVG and other formats are not accepted/],
        ['SVG named .png, typed image/png', svg, 'logo.png', 'image/png', 422, /SVG and other formats are not accepted/],
        ['HTML typed image/png', html, 'logo.png', 'image/png', 422, /not accepted/],
        ['empty file', Buffer.alloc(0), 'logo.png', 'image/png', 422, /empty/],
        ['PNG signature, garbage after', Buffer.concat([big.subarray(0, 8), Buffer.from('garbage')]), 'logo.png', 'image/png', 422, /could not be read/],
        ['oversize', big, 'logo.png', 'image/png', 413, /larger than 2 MB/],
        ['pixel flood 50000×50000', pixelFloodPng(50_000, 50_000), 'logo.png', 'image/png', 422, /too many pixels/],
      ];
      for (const [name, content, filename, type, status, message] of cases) {
        const res = await uploadLogo(admin, n.id, content, filename, type);
        assert.equal(res.statusCode, status, name);
        assert.match(res.body, message, name);
      }
      const row = await t.db.db.selectFrom('newsletters').select('logo_file').where('id', '=', n.id).executeTakeFirstOrThrow();
      assert.equal(row.logo_file, null);
      assert.deepEqual(readdirOrEmpty(path.join(dataDir, 'brand')), []);
      assert.equal((await t.agent().get('/brand/..%2Fgazette.db')).statusCode, 404);
      assert.equal((await t.agent().get(`/brand/${'a'.repeat(64)}.png`)).statusCode, 404);
    });

    it('previews the last post live, warns about low contrast, and saves nothing', async () => {
      await makePost(t, n.id, { subject: 'The latest one', body: 'Some [link](https://example.com).' });
      await admin.get(`/admin/newsletters/${n.id}/design`);
      const res = await admin.post(`/admin/newsletters/${n.id}/design/preview`, { ...DESIGN, accent_color: '#f0e68c' }, { 'hx-request': 'true' });
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /^<section class="card" id="design-preview"/, 'only the fragment for htmx');
      assert.match(res.body, /Preview: The latest one/);
      assert.match(res.body, /Low contrast:<\/strong> the accent colour <code>#f0e68c<\/code>/);
      assert.match(res.body, /title="Email preview" sandbox srcdoc="[^"]*#f0e68c/);
      assert.match(res.body, /title="Web page preview" sandbox srcdoc="[^"]*--accent: #f0e68c/);
      const typo = await admin.post(`/admin/newsletters/${n.id}/design/preview`, { ...DESIGN, accent_color: '#8a1c4' }, { 'hx-request': 'true' });
      assert.equal(typo.statusCode, 422);
      assert.match(typo.body, /The preview shows the saved design until these are fixed:\s*<ul>\s*<li>Enter a colour as # and six hexadecimal digits/);
      const fine = await admin.post(`/admin/newsletters/${n.id}/design/preview`, DESIGN);
      assert.match(fine.body, /<h1>Design of Harbour Notes<\/h1>/, 'a whole page without htmx');
      assert.doesNotMatch(fine.body, /Low contrast/);
      const row = await t.db.db.selectFrom('newsletters').select('accent_color').where('id', '=', n.id).executeTakeFirstOrThrow();
      assert.equal(row.accent_color, '#1f5fbf', 'a preview saves nothing');
    });
  });
}

function readdirOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
