import assert from 'node:assert/strict';
import net from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { createSmtpMailer } from '../../../src/sending/smtp-mailer.js';
import { RETRY_DELAYS_MS } from '../../../src/sending/mail-outbox.js';
import { buildTestApp, setupOwner, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { subscribeViaForm, subscriptionOf } from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`confirmation mail leaves after commit (${dialect})`, () => {
    let t: TestApp;
    afterEach(() => t.close());

    it('a relay failure does not lose the confirmation: it is retried until it goes out', async () => {
      t = await buildTestApp(dialect);
      await setupOwner(t);
      t.mailer.fail = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:587'), { code: 'ESOCKET' });
      const res = await subscribeViaForm(t, 'newsletter', { email: 'patient@example.com' });
      assert.equal(res.statusCode, 200);
      assert.equal((await subscriptionOf(t, 'patient@example.com'))?.status, 'pending');
      const queued = await t.db.db.selectFrom('mail_outbox').select(['status', 'kind', 'to_address']).execute();
      assert.deepEqual(queued, [{ status: 'retry', kind: 'confirmation', to_address: 'patient@example.com' }]);

      t.mailer.fail = undefined;
      t.clock.advance(RETRY_DELAYS_MS[0]!);
      assert.equal(await t.mailOutbox.runOnce(), 1);
      assert.equal(t.mailer.sent.length, 1);
      assert.match(t.mailer.last()!.subject, /Confirm your subscription/);
      const events = await t.db.db.selectFrom('events').select('type').where('type', '=', 'confirmation_sent').execute();
      assert.equal(events.length, 1, 'the event is recorded when the mail really left');
    });

    it('a relay that never answers holds no database connection: pages answer while the mail waits', { timeout: 20_000 }, async () => {
      // Accepts connections and never says a word (no SMTP greeting).
      const sockets = new Set<net.Socket>();
      const silent = net.createServer((s) => sockets.add(s));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const port = (silent.address() as net.AddressInfo).port;
      const mailer = createSmtpMailer({ host: '127.0.0.1', port, secure: false, user: undefined, password: undefined }, undefined);
      t = await buildTestApp(dialect, { mailer });
      try {
        await setupOwner(t);
        const page = await t.app.inject({ method: 'GET', url: '/n/newsletter' });
        const token = /name="t" value="([^"]+)"/.exec(page.body)![1]!;
        t.clock.advance(5000);
        const res = await t.app.inject({
          method: 'POST',
          url: '/n/newsletter/subscribe',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: new URLSearchParams({ email: 'waiting@example.com', t: token, website: '' }).toString(),
        });
        assert.equal(res.statusCode, 200);
        // The relay has the connection open and silent, and the database is free.
        const deadline = Date.now() + 5000;
        while (sockets.size === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
        assert.equal(sockets.size > 0, true, 'the mail outbox is talking to the relay');
        assert.equal((await subscriptionOf(t, 'waiting@example.com'))?.status, 'pending');
        assert.equal((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
        assert.equal((await t.app.inject({ method: 'GET', url: '/n/newsletter' })).statusCode, 200);
        const row = await t.db.db.selectFrom('mail_outbox').select('status').executeTakeFirstOrThrow();
        assert.equal(row.status, 'sending');
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise((r) => silent.close(r));
        await t.mailOutbox.idle();
        await mailer.close();
      }
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`the mail log (${dialect})`, () => {
    let t: TestApp;
    afterEach(() => t.close());

    it('lists each message with its fate, and a failed one can be sent again', async () => {
      t = await buildTestApp(dialect);
      const owner = await setupOwner(t);
      t.mailer.fail = Object.assign(new Error('5.1.1 mailbox unavailable'), { responseCode: 550, response: '550 5.1.1 mailbox unavailable' });
      await subscribeViaForm(t, 'newsletter', { email: 'bounce@example.com' });
      t.mailer.fail = undefined;
      await subscribeViaForm(t, 'newsletter', { email: 'fine@example.com' });

      const settings = await owner.get('/admin/settings');
      assert.match(settings.body, /<a href="\/admin\/mail">Mail log<\/a>/);
      const log = await owner.get('/admin/mail');
      assert.equal(log.statusCode, 200);
      assert.match(log.body, /Subscription confirmation/);
      assert.match(log.body, /bounce@example\.com[\s\S]*<strong>Failed<\/strong>[\s\S]*550 5\.1\.1 mailbox unavailable/);
      assert.match(log.body, /fine@example\.com[\s\S]*<strong>Sent<\/strong>/);
      assert.match(log.body, /Failed: <strong>1<\/strong>/);
      assert.doesNotMatch((await owner.get('/admin/mail?status=sent')).body, /bounce@example\.com/);

      const failed = await t.db.db.selectFrom('mail_outbox').select('id').where('status', '=', 'failed').executeTakeFirstOrThrow();
      const resent = await owner.post(`/admin/mail/${failed.id}/resend`);
      assert.equal(resent.statusCode, 303);
      assert.equal(resent.headers.location, '/admin/mail?resent=1');
      assert.deepEqual(t.mailer.sent.map((m) => m.to), ['fine@example.com', 'bounce@example.com']);
      assert.equal((await owner.post(`/admin/mail/${failed.id}/resend`)).statusCode, 404, 'a sent message is not sent again');
      assert.equal((await owner.post('/admin/mail/99999999999/resend')).statusCode, 404);
      assert.equal((await t.agent().get('/admin/mail')).statusCode, 303, 'the log is for the signed-in owner only');
    });
  });
}
