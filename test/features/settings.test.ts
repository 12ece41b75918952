import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Mailer } from '../../src/sending/mailer.js';
import { createSmtpMailer } from '../../src/sending/smtp-mailer.js';
import { buildTestApp, OWNER, setupOwner, testConfig, type Agent, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';
import { reply, startSmtpServer, type TestSmtpServer } from '../helpers/smtp-server.js';

const SMTP_USER = 'relay-user@example.com';
const SMTP_PASSWORD = 'S3cret-p@ss/w0rd:with%odd chars';

/** The text of the test-email result box on a settings page or fragment. */
function testResult(body: string): { ok: boolean; message: string } | undefined {
  const m = /<div class="alert (ok|error)" role="status">([^<]*)<\/div>/.exec(body);
  return m ? { ok: m[1] === 'ok', message: m[2]! } : undefined;
}

for (const dialect of DIALECTS) {
  describe(`settings (${dialect})`, () => {
    let t: TestApp;
    let smtp: TestSmtpServer;
    let mailer: Mailer;
    let agent: Agent;

    beforeEach(async () => {
      smtp = await startSmtpServer({ auth: { user: SMTP_USER, pass: SMTP_PASSWORD } });
      const env = { SMTP_URL: smtp.url };
      // The same construction as boot.ts: real nodemailer over the configured relay.
      mailer = createSmtpMailer(testConfig(env).smtp!, undefined);
      t = await buildTestApp(dialect, { env, mailer });
      agent = await setupOwner(t);
    });
    afterEach(async () => {
      await t.close();
      await mailer.close();
      await smtp.close();
    });

    it('shows the SMTP settings read-only with the password masked', async () => {
      assert.equal(t.config.smtp?.password, SMTP_PASSWORD, 'the URL carried the password');
      const page = await agent.get('/admin/settings');
      assert.equal(page.statusCode, 200);
      assert.ok(page.body.includes(`127.0.0.1:${smtp.port}`));
      assert.ok(page.body.includes(SMTP_USER));
      assert.match(page.body, /<dt>Password<\/dt><dd>••••••••/);
      for (const form of [SMTP_PASSWORD, encodeURIComponent(SMTP_PASSWORD), 'S3cret', smtp.url]) {
        assert.ok(!page.body.includes(form), `the page does not contain ${JSON.stringify(form)}`);
      }
      assert.equal(page.headers['cache-control'], 'no-store');
      assert.doesNotMatch(page.body, /dev outbox/, 'no capture banner with a relay configured');
    });

    it('sends a test email through the relay and shows its answer', async () => {
      smtp.respond.onData = () => reply(250, '2.0.0 Ok: queued as 4F2XQ9');
      await agent.get('/admin/settings');
      const res = await agent.post('/admin/settings/test-email');
      assert.equal(res.statusCode, 200);
      assert.deepEqual(testResult(res.body), { ok: true, message: 'Accepted by the relay: 250 2.0.0 Ok: queued as 4F2XQ9' });

      // It was accepted before the page was rendered, so it is already here.
      assert.equal(smtp.messages.length, 1);
      const [msg] = smtp.messages;
      assert.deepEqual(msg!.envelope, { from: 'gazette@gazette.test', to: [OWNER.email] });
      const parsed = msg!.parsed!;
      assert.equal(parsed.subject, 'Gazette test email');
      assert.deepEqual(parsed.from?.value, [{ name: 'Gazette', address: 'gazette@gazette.test' }]);
      assert.equal(parsed.to && !Array.isArray(parsed.to) ? parsed.to.text : undefined, OWNER.email);
      assert.match(parsed.messageId ?? '', /^<[\w-]+@gazette\.test>$/);
      assert.match(parsed.text ?? '', /If you can read it, sending works\./);
      assert.ok(parsed.date instanceof Date);
      assert.match(msg!.raw.toString('latin1'), /\r\nMIME-Version: 1\.0\r\n/);
    });

    it('answers htmx with the result fragment only', async () => {
      await agent.get('/admin/settings');
      const res = await agent.post('/admin/settings/test-email', {}, { 'hx-request': 'true' });
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /^<div id="test-result" aria-live="polite">/);
      assert.match(testResult(res.body)!.message, /^Accepted by the relay: 250 /);
      await smtp.waitFor(1);
    });

    it('shows the refusal when the relay rejects the recipient', async () => {
      smtp.respond.onRcpt = () => reply(550, '5.7.1 Relaying denied for this sender');
      await agent.get('/admin/settings');
      const res = await agent.post('/admin/settings/test-email');
      assert.equal(res.statusCode, 200);
      assert.deepEqual(testResult(res.body), {
        ok: false,
        message: 'The relay refused or could not be reached: 550 5.7.1 Relaying denied for this sender (EENVELOPE)',
      });
      assert.equal(smtp.messages.length, 0);
      assert.deepEqual(
        smtp.refusals.map((r) => [r.stage, r.address]),
        [['rcpt', OWNER.email]],
      );
    });

    it('shows the refusal when the relay rejects the message itself', async () => {
      smtp.respond.onData = () => reply(554, '5.6.0 Message rejected as spam');
      await agent.get('/admin/settings');
      const res = await agent.post('/admin/settings/test-email');
      assert.equal(res.statusCode, 200);
      const result = testResult(res.body)!;
      assert.equal(result.ok, false);
      assert.match(result.message, /554 5\.6\.0 Message rejected as spam/);
    });

    it('shows a temporary failure and a lost connection without a server error', async () => {
      smtp.respond.onData = () => reply(451, '4.3.0 Try again later');
      await agent.get('/admin/settings');
      const deferred = await agent.post('/admin/settings/test-email');
      assert.equal(deferred.statusCode, 200);
      assert.match(testResult(deferred.body)!.message, /451 4\.3\.0 Try again later/);

      smtp.respond.onData = () => 'drop';
      const dropped = await agent.post('/admin/settings/test-email');
      assert.equal(dropped.statusCode, 200);
      assert.match(testResult(dropped.body)!.message, /^The relay refused or could not be reached: .*Connection closed/);
      assert.deepEqual(
        smtp.refusals.map((r) => r.stage),
        ['data', 'data'],
      );
    });

    it('shows a failed sign-in at the relay', async () => {
      const wrong = createSmtpMailer({ ...testConfig({ SMTP_URL: smtp.url }).smtp!, password: 'wrong password' }, undefined);
      const other = await buildTestApp(dialect, { env: { SMTP_URL: smtp.url }, mailer: wrong });
      try {
        const owner = await setupOwner(other);
        await owner.get('/admin/settings');
        const res = await owner.post('/admin/settings/test-email');
        assert.equal(res.statusCode, 200);
        assert.match(testResult(res.body)!.message, /535 5\.7\.8 Authentication credentials invalid \(EAUTH\)/);
        assert.equal(smtp.messages.length, 0);
      } finally {
        await other.close();
        await wrong.close();
      }
    });
  });
}
