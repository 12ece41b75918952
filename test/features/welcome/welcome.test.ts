import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createSmtpMailer } from '../../../src/sending/smtp-mailer.js';
import type { Mailer } from '../../../src/sending/mailer.js';
import { buildTestApp, setupOwner, testConfig, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp-server.js';
import { makeNewsletter } from '../../sending/fixtures.js';
import { firstNewsletterId, uploadCsv } from '../subscribers/factories.js';

const WELCOME = { enabled: 'on', subject: 'Welcome aboard, {{ subscriber.first_name | default: "friend" }}', body: 'Hello {{ subscriber.name | default: "there" }},\n\nHere is **what to expect** from {{ newsletter.name }}.' };

for (const dialect of DIALECTS) {
  describe(`welcome mail (${dialect})`, () => {
    let t: TestApp;
    let smtp: TestSmtpServer;
    let mailer: Mailer;
    let owner: Agent;
    let newsletterId: number;

    beforeEach(async () => {
      smtp = await startSmtpServer();
      const env = { SMTP_URL: smtp.url };
      // Real nodemailer to a real SMTP server: every mail below is parsed from the wire.
      mailer = createSmtpMailer(testConfig(env).smtp!, undefined);
      t = await buildTestApp(dialect, { env, mailer });
      owner = await setupOwner(t);
      newsletterId = await firstNewsletterId(t.db.db);
    });
    afterEach(async () => {
      await t.close();
      await mailer.close();
      await smtp.close();
    });

    const welcomes = () => smtp.messages.filter((m) => m.parsed!.subject?.startsWith('Welcome aboard')).map((m) => m.parsed!);
    const welcomeRows = async () => (await t.db.db.selectFrom('welcome_sent').selectAll().execute()).length;
    const switchOn = async () => {
      await owner.get(`/admin/newsletters/${newsletterId}/welcome`);
      const res = await owner.post(`/admin/newsletters/${newsletterId}/welcome`, WELCOME);
      assert.equal(res.statusCode, 303, res.body.slice(0, 300));
    };
    const subscribe = async (email: string, name: string) => {
      const reader = t.agent();
      const page = await reader.get('/n/newsletter');
      const token = /name="t" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
      t.clock.advance(5000);
      await reader.post('/n/newsletter/subscribe', { t: token, website: '', email, name });
      const mail = smtp.messages.map((m) => m.parsed!).filter((m) => m.to && JSON.stringify(m.to).includes(email) && /Confirm/.test(m.subject ?? '')).pop();
      const path = /http:\/\/gazette\.test(\/confirm\/[A-Za-z0-9_-]+)/.exec(mail?.text ?? '')?.[1];
      assert.ok(path, `a confirmation link reached ${email}`);
      return { reader, path };
    };

    it('is edited on its own page with a live preview, and refuses a broken merge tag beside the field', async () => {
      const page = await owner.get(`/admin/newsletters/${newsletterId}/welcome`);
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /Welcome to \{\{ newsletter.name \}\}/, 'a default text to start from');
      assert.match((await owner.get(`/admin/newsletters/${newsletterId}`)).body, new RegExp(`href="/admin/newsletters/${newsletterId}/welcome"`));
      const preview = await owner.post(`/admin/newsletters/${newsletterId}/welcome/preview`, { subject: WELCOME.subject, body: WELCOME.body }, { 'hx-request': 'true' });
      assert.equal(preview.statusCode, 200);
      assert.match(preview.body, /Welcome aboard, Olive/);
      assert.match(preview.body, /Hello Olive Owner/);
      assert.doesNotMatch(preview.body, /<html/);
      const bad = await owner.post(`/admin/newsletters/${newsletterId}/welcome`, { ...WELCOME, body: 'Hi {{ subscriber.nmae }}' });
      assert.equal(bad.statusCode, 422);
      assert.match(bad.body, /id="f-body-error">[^<]*subscriber has name/);
      const empty = await owner.post(`/admin/newsletters/${newsletterId}/welcome`, { ...WELCOME, subject: '' });
      assert.equal(empty.statusCode, 422);
      await switchOn();
      const saved = await owner.get(`/admin/newsletters/${newsletterId}/welcome?saved=1`);
      assert.match(saved.body, /name="enabled" value="on" checked/);
    });

    it('goes out once when a reader confirms, never again on a second confirm or sign-up', async () => {
      const { reader: before } = await subscribe('early@example.com', 'Early Bird');
      await before.post((await subscribe('early@example.com', 'Early Bird')).path, {});
      assert.equal(welcomes().length, 0, 'switched off: no welcome');
      await switchOn();

      const { reader, path } = await subscribe('pat@example.com', 'Pat Reader');
      assert.equal(welcomes().length, 0, 'nothing before the confirmation');
      const confirmed = await reader.post(path, {});
      assert.equal(confirmed.statusCode, 200);
      await smtp.waitUntil(() => welcomes().length === 1);
      const mail = welcomes()[0]!;
      assert.equal(mail.subject, 'Welcome aboard, Pat');
      assert.deepEqual((Array.isArray(mail.to) ? mail.to[0] : mail.to)!.value.map((v) => v.address), ['pat@example.com']);
      assert.match(mail.text ?? '', /Hello Pat Reader,/);
      assert.match(String(mail.html), /<strong>what to expect<\/strong>/);
      const token = (await t.db.db.selectFrom('subscribers').select('token').where('email', '=', 'pat@example.com').executeTakeFirstOrThrow()).token;
      // Unfolded: a long header value is carried on a continuation line.
      const raw = smtp.messages.find((m) => m.parsed === mail)!.raw.toString().replace(/\r\n[ \t]+/g, ' ');
      assert.match(raw, /^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$/m);
      assert.ok(raw.includes(`List-Unsubscribe: <http://gazette.test/unsubscribe/${token}>`), 'the one-click unsubscribe address of this reader');

      await reader.post(path, {});
      await subscribe('pat@example.com', 'Pat Reader').catch(() => undefined);
      await t.mailOutbox.idle();
      assert.equal(welcomes().length, 1, 'confirming again or signing up again sends no second welcome');
      assert.equal(await welcomeRows(), 1);
      const outbox = await t.db.db.selectFrom('mail_outbox').select(['status', 'to_address']).where('kind', '=', 'welcome').execute();
      assert.deepEqual(outbox, [{ status: 'sent', to_address: 'pat@example.com' }]);
    });

    it('carries the newsletter’s logo, absolute, like a post', async () => {
      const logo = `${'a'.repeat(64)}.png`;
      await t.db.db.updateTable('newsletters').set({ logo_file: logo, logo_width: 200, logo_height: 50 }).where('id', '=', newsletterId).execute();
      await switchOn();
      const { reader, path } = await subscribe('lou@example.com', 'Lou');
      await reader.post(path, {});
      await smtp.waitUntil(() => welcomes().length === 1);
      assert.ok(String(welcomes()[0]!.html).includes(`src="http://gazette.test/brand/${logo}"`), 'the logo is linked from the server');
    });

    it('goes to a subscriber the writer or the API adds as active, not to one added as pending', async () => {
      await switchOn();
      await owner.get('/admin/subscribers/new');
      await owner.post('/admin/subscribers', { email: 'added@example.com', name: 'Added Person', newsletter_id: String(newsletterId), status: 'active' });
      await owner.post('/admin/subscribers', { email: 'waiting@example.com', name: 'Waiting', newsletter_id: String(newsletterId), status: 'pending' });
      await smtp.waitUntil(() => welcomes().length === 1);
      await t.mailOutbox.idle();
      assert.deepEqual(welcomes().map((m) => m.subject), ['Welcome aboard, Added']);

      // The API's "consented" subscriber (a trusted key may create it active) is welcomed too.
      await owner.get('/admin/api');
      const keyPage = await owner.post('/admin/api/keys', { name: 'Shop', scopes: ['subscribers:write:trusted'] });
      const key = /id="api-key"[^>]*value="(gz_[a-z2-7]+)"/.exec(keyPage.body)![1]!;
      const created = await t.app.inject({
        method: 'POST',
        url: '/api/v1/subscribers',
        headers: { host: 'gazette.test', authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ email: 'api@example.com', name: 'Api Person', newsletter_id: newsletterId, status: 'active' }),
      });
      assert.equal(created.statusCode, 201, created.body);
      await t.mailOutbox.idle();
      await smtp.waitUntil(() => welcomes().length === 2);
      assert.deepEqual(welcomes().map((m) => m.subject), ['Welcome aboard, Added', 'Welcome aboard, Api']);
    });

    it('goes to a reader who joins another newsletter from the preferences page, once', async () => {
      const second = await makeNewsletter(t.db.db, t.clock.now(), { slug: 'second', name: 'Second Letter' });
      await owner.get(`/admin/newsletters/${second.id}/welcome`);
      assert.equal((await owner.post(`/admin/newsletters/${second.id}/welcome`, { ...WELCOME, subject: 'Welcome aboard {{ newsletter.name }}' })).statusCode, 303);
      await owner.get('/admin/subscribers/new');
      await owner.post('/admin/subscribers', { email: 'multi@example.com', name: 'Multi', newsletter_id: String(newsletterId), status: 'active' });
      const token = (await t.db.db.selectFrom('subscribers').select('token').where('email', '=', 'multi@example.com').executeTakeFirstOrThrow()).token;
      const reader = t.agent();
      const both = { name: 'Multi', newsletters: [String(newsletterId), String(second.id)] };
      assert.equal((await reader.post(`/preferences/${token}`, both)).statusCode, 200);
      await smtp.waitUntil(() => welcomes().length === 1);
      assert.deepEqual(welcomes().map((m) => m.subject), ['Welcome aboard Second Letter']);
      // Leaving and joining again: no second welcome.
      await reader.post(`/preferences/${token}`, { name: 'Multi', newsletters: [String(newsletterId)] });
      await reader.post(`/preferences/${token}`, both);
      await t.mailOutbox.idle();
      assert.equal(welcomes().length, 1);
    });

    it('goes to the people an import activates only when "send welcome" is ticked, and never on re-import', async () => {
      await switchOn();
      await owner.get('/admin/subscribers/import');
      const fields = { newsletter_id: String(newsletterId), mode: 'confirmed' };
      const importFile = async (content: string, welcome: boolean) => {
        const res = await uploadCsv(owner, welcome ? { ...fields, send_welcome: 'on' } : fields, { filename: 'list.csv', content });
        assert.equal(res.statusCode, 303, res.body.slice(0, 300));
        await t.app.imports.idle();
        await t.mailOutbox.idle();
      };
      await importFile('email,name\nann@example.com,Ann\nbob@example.com,Bob\n', false);
      assert.equal(welcomes().length, 0, 'box unticked: no welcome');
      await importFile('email,name\nann@example.com,Ann\nbob@example.com,Bob\n', true);
      assert.equal(welcomes().length, 0, 're-importing people already active sends nothing, ticked or not');
      await importFile('email,name\nann@example.com,Ann\ncy@example.com,Cy\ndee@example.com,Dee\n', true);
      await smtp.waitUntil(() => welcomes().length === 2);
      assert.deepEqual(welcomes().map((m) => m.subject).sort(), ['Welcome aboard, Cy', 'Welcome aboard, Dee']);
      await importFile('email,name\ncy@example.com,Cy\ndee@example.com,Dee\n', true);
      assert.equal(welcomes().length, 2, 'the same file again: nothing');
      assert.equal(await welcomeRows(), 2);
    });
  });
}
