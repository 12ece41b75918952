import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { suppress } from '../../../src/domain/suppressions.js';
import { createSmtpMailer } from '../../../src/sending/smtp-mailer.js';
import { buildTestApp, setupOwner, testConfig, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { startSmtpServer } from '../../helpers/smtp-server.js';
import { lastConfirmPath, subscribeViaForm, subscriptionOf } from './helpers.js';

const HOUR = 60 * 60 * 1000;

for (const dialect of DIALECTS) {
  describe(`subscribe and confirm (${dialect})`, () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      await setupOwner(t);
    });
    afterEach(() => t.close());

    it('setup created a default newsletter that / shows with a subscribe form', async () => {
      const res = await t.agent().get('/');
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /Olive Owner&#39;s newsletter|Olive Owner's newsletter/);
      assert.match(res.body, /action="\/n\/newsletter\/subscribe"/);
      assert.match(res.body, /<label for="f-email">Email address<\/label>/);
    });

    it('double opt-in: pending, confirmation mail, GET changes nothing, POST confirms, reuse is friendly', async () => {
      const res = await subscribeViaForm(t, 'newsletter', { email: 'Reader@Example.com', name: 'Rita Reader' });
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /Check your inbox/);
      assert.equal((await subscriptionOf(t, 'reader@example.com'))?.status, 'pending');
      const mail = t.mailer.last()!;
      assert.equal(mail.to, 'reader@example.com');
      assert.match(mail.subject, /Confirm your subscription/);
      assert.equal(mail.headers?.['Auto-Submitted'], 'auto-generated');
      assert.doesNotMatch(mail.text + (mail.html ?? ''), /Rita/, 'the reader-typed name is never put in the opt-in mail');

      const path = lastConfirmPath(t);
      const anon = t.agent();
      const page = await anon.get(path);
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /Yes, subscribe me/);
      assert.equal((await subscriptionOf(t, 'reader@example.com'))?.status, 'pending', 'GET must not confirm');
      await anon.get(path);
      assert.equal((await subscriptionOf(t, 'reader@example.com'))?.status, 'pending');

      const confirmed = await anon.request('POST', path, '', { 'content-type': 'application/x-www-form-urlencoded' });
      assert.equal(confirmed.statusCode, 200);
      assert.match(confirmed.body, /You are subscribed/);
      const sub = await subscriptionOf(t, 'reader@example.com');
      assert.equal(sub?.status, 'active');
      assert.equal(sub?.confirmed_at, t.clock.now());
      const again = await anon.request('POST', path, '', { 'content-type': 'application/x-www-form-urlencoded' });
      assert.equal(again.statusCode, 200);
      assert.match(again.body, /You are subscribed/);
      const events = await t.db.db.selectFrom('events').select('type').where('subscriber_id', '=', sub!.subscriber_id).orderBy('id').execute();
      assert.deepEqual(events.map((e) => e.type), ['subscribed', 'confirmation_sent', 'confirmed']);
    });

    it('an expired token gets a friendly page with a way to resubscribe; an unknown one a 404', async () => {
      await subscribeViaForm(t, 'newsletter', { email: 'late@example.com' });
      const path = lastConfirmPath(t);
      t.clock.advance(7 * 24 * HOUR + 1);
      const page = await t.agent().get(path);
      assert.match(page.body, /This link has expired/);
      assert.match(page.body, /href="http:\/\/gazette.test\/n\/newsletter"/);
      const post = await t.agent().request('POST', path, '', { 'content-type': 'application/x-www-form-urlencoded' });
      assert.match(post.body, /This link has expired/);
      assert.equal((await subscriptionOf(t, 'late@example.com'))?.status, 'pending');
      assert.equal((await t.agent().get('/confirm/not-a-real-token-at-all')).statusCode, 404);
    });

    it('re-subscribing gives the same page and never re-sends more than daily (list bombing)', async () => {
      const first = await subscribeViaForm(t, 'newsletter', { email: 'again@example.com' });
      const sent = t.mailer.sent.length;
      const second = await subscribeViaForm(t, 'newsletter', { email: 'again@example.com' });
      assert.equal(second.statusCode, first.statusCode);
      assert.equal(second.body.replace(/req-\d+/g, ''), first.body.replace(/req-\d+/g, ''));
      assert.equal(t.mailer.sent.length, sent, 'no second confirmation within the day');
      t.clock.advance(23 * HOUR);
      await subscribeViaForm(t, 'newsletter', { email: 'again@example.com' });
      assert.equal(t.mailer.sent.length, sent, 'nor 23 hours later, whoever asks');
      t.clock.advance(HOUR);
      await subscribeViaForm(t, 'newsletter', { email: 'again@example.com' });
      assert.equal(t.mailer.sent.length, sent + 1);

      // An active subscriber: same page again, and at most one "already subscribed" notice a day.
      await t.agent().request('POST', lastConfirmPath(t), '', { 'content-type': 'application/x-www-form-urlencoded' });
      t.clock.advance(24 * HOUR);
      const beforeActive = t.mailer.sent.length;
      const third = await subscribeViaForm(t, 'newsletter', { email: 'again@example.com' });
      assert.match(third.body, /Check your inbox/);
      await subscribeViaForm(t, 'newsletter', { email: 'again@example.com' });
      assert.equal(t.mailer.sent.length, beforeActive + 1);
      assert.match(t.mailer.last()!.subject, /already subscribed/);
    });

    // A too-fast press is refused out loud instead (fill-time.test.ts): a person's browser may autofill.
    it('bots that fill the hidden field get the same page and nothing happens', async () => {
      const honey = await subscribeViaForm(t, 'newsletter', { email: 'bot2@example.com', website: 'http://spam.example' });
      assert.match(honey.body, /Check your inbox/);
      assert.equal(await subscriptionOf(t, 'bot2@example.com'), undefined);
      assert.equal(t.mailer.sent.length, 0);
    });

    it('a suppressed address gets the same page and no mail', async () => {
      await suppress(t.db.db, 'bounced@example.com', 'bounced', t.clock.now());
      const res = await subscribeViaForm(t, 'newsletter', { email: 'bounced@example.com' });
      assert.match(res.body, /Check your inbox/);
      assert.equal(await subscriptionOf(t, 'bounced@example.com'), undefined);
      assert.equal(t.mailer.sent.length, 0);
    });

    it('invalid email: 422 with the message beside the field (form) or naming the field (JSON)', async () => {
      const res = await subscribeViaForm(t, 'newsletter', { email: 'not an email', name: 'Ann' });
      assert.equal(res.statusCode, 422);
      assert.match(res.body, /id="f-email-error">Enter a valid email address/);
      assert.match(res.body, /value="Ann"/);
      const json = await t.app.inject({ method: 'POST', url: '/n/newsletter/subscribe', headers: { accept: 'application/json', 'content-type': 'application/json' }, payload: { email: '' } });
      assert.equal(json.statusCode, 422);
      assert.equal(json.json().error.fields.email, 'Enter your email address.');
      const weird = await t.app.inject({ method: 'POST', url: '/n/newsletter/subscribe', headers: { accept: 'application/json', 'content-type': 'application/json' }, payload: { email: { $gt: '' }, name: ['x'] } });
      assert.equal(weird.statusCode, 422);
      const badJson = await t.app.inject({ method: 'POST', url: '/n/newsletter/subscribe', headers: { 'content-type': 'application/json' }, payload: '{"email":' });
      assert.equal(badJson.statusCode, 400);
      assert.equal((await t.app.inject({ method: 'POST', url: '/n/nope/subscribe', payload: { email: 'a@b.example' } })).statusCode, 404);
    });

    it('JSON clients get JSON, and the subscription records its source', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/n/newsletter/subscribe',
        headers: { accept: 'application/json', 'content-type': 'application/json' },
        payload: { email: 'api@example.com', name: 'Api <b>User</b>' },
      });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(Object.keys(res.json()).sort(), ['message', 'ok', 'status']);
      assert.equal(res.json().status, 'pending');
      const sub = await subscriptionOf(t, 'api@example.com');
      assert.equal(sub?.source, 'api');
      assert.equal(sub?.name, 'Api User');
    });

    it('accepts the embeddable form posted from another site, without cookies or CSRF token', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/n/newsletter/subscribe',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://someones-blog.example', 'sec-fetch-site': 'cross-site' },
        payload: 'email=embed%40example.com&source=embed&website=',
      });
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /Check your inbox/);
      assert.equal((await subscriptionOf(t, 'embed@example.com'))?.source, 'embed');
    });

    it('rate-limits per IP (429 with a page) and per address across Gmail variants', async () => {
      let last;
      for (let i = 0; i < 11; i++) {
        last = await t.app.inject({
          method: 'POST',
          url: '/n/newsletter/subscribe',
          remoteAddress: '203.0.113.7',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
          payload: `email=ip${i}%40example.com`,
        });
      }
      assert.equal(last!.statusCode, 429);
      assert.ok(Number(last!.headers['retry-after']) > 0);
      assert.match(last!.body, /Please slow down/);
      const other = await t.app.inject({ method: 'POST', url: '/n/newsletter/subscribe', remoteAddress: '203.0.113.8', payload: { email: 'fine@example.com' } });
      assert.equal(other.statusCode, 200);

      const variants = ['vi.ctim@gmail.com', 'victim+1@gmail.com', 'v.i.c.t.i.m@gmail.com', 'VICTIM@googlemail.com', 'victim@gmail.com', 'vic.tim+2@gmail.com'];
      const codes = [];
      for (const [i, email] of variants.entries()) {
        codes.push((await t.app.inject({ method: 'POST', url: '/n/newsletter/subscribe', remoteAddress: `198.51.100.${i}`, payload: { email } })).statusCode);
      }
      assert.deepEqual(codes, [200, 200, 200, 200, 200, 429]);
    });

    it('refuses addresses on blocked domains', async () => {
      const blocked = await buildTestApp(dialect, { env: { SUBSCRIBE_BLOCKED_DOMAINS: 'mailinator.com, spam.example' } });
      try {
        await setupOwner(blocked);
        const res = await subscribeViaForm(blocked, 'newsletter', { email: 'x@sub.mailinator.com' });
        assert.equal(res.statusCode, 422);
        assert.match(res.body, /cannot subscribe/);
        assert.equal(await subscriptionOf(blocked, 'x@sub.mailinator.com'), undefined);
      } finally {
        await blocked.close();
      }
    });

    it('single opt-in newsletters activate at once and send no confirmation', async () => {
      const agent = await setupAgentWithSingleOptIn(t);
      void agent;
      const res = await subscribeViaForm(t, 'daily', { email: 'now@example.com' });
      assert.match(res.body, /You are subscribed to Daily/);
      assert.equal((await subscriptionOf(t, 'now@example.com'))?.status, 'active');
      assert.equal(t.mailer.sent.length, 0);
    });

    it('records the sign-up IP only when RECORD_SUBSCRIBER_IP is on', async () => {
      await t.app.inject({ method: 'POST', url: '/n/newsletter/subscribe', remoteAddress: '192.0.2.10', payload: { email: 'noip@example.com' } });
      const off = await t.db.db.selectFrom('subscribers').select('ip').where('email', '=', 'noip@example.com').executeTakeFirstOrThrow();
      assert.equal(off.ip, null);
      const withIp = await buildTestApp(dialect, { env: { RECORD_SUBSCRIBER_IP: 'true' } });
      try {
        await setupOwner(withIp);
        await withIp.app.inject({ method: 'POST', url: '/n/newsletter/subscribe', remoteAddress: '192.0.2.10', payload: { email: 'ip@example.com' } });
        const on = await withIp.db.db.selectFrom('subscriptions').select('consent_ip').executeTakeFirstOrThrow();
        assert.equal(on.consent_ip, '192.0.2.10');
      } finally {
        await withIp.close();
      }
    });
  });

  describe(`confirmation mail over real SMTP (${dialect})`, () => {
    it('arrives with a working link and no List-Unsubscribe header', async () => {
      const smtp = await startSmtpServer();
      const config = testConfig({ SMTP_URL: smtp.url });
      const t = await buildTestApp(dialect, { mailer: createSmtpMailer(config.smtp!, undefined) });
      try {
        await setupOwner(t);
        await subscribeViaForm(t, 'newsletter', { email: 'wire@example.com' });
        await smtp.waitFor(1);
        const msg = smtp.messages[0]!;
        assert.deepEqual(msg.envelope.to, ['wire@example.com']);
        const parsed = await simpleParser(msg.raw);
        assert.match(parsed.subject ?? '', /Confirm your subscription/);
        assert.equal(parsed.headers.get('list-unsubscribe'), undefined);
        assert.ok(parsed.html && parsed.text, 'both MIME parts');
        const link = /http:\/\/gazette\.test(\/confirm\/[A-Za-z0-9_-]+)/.exec(parsed.text ?? '')![1]!;
        const res = await t.agent().request('POST', link, '', { 'content-type': 'application/x-www-form-urlencoded' });
        assert.match(res.body, /You are subscribed/);
        assert.equal((await subscriptionOf(t, 'wire@example.com'))?.status, 'active');
      } finally {
        await t.close();
        await smtp.close();
      }
    });
  });
}

async function setupAgentWithSingleOptIn(t: TestApp) {
  const agent = t.agent();
  await agent.post('/login', { email: 'olive@example.com', password: 'a long enough passphrase' });
  await agent.get('/admin/newsletters/new');
  const res = await agent.post('/admin/newsletters', { name: 'Daily', slug: 'daily', from_email: 'daily@example.com', time_zone: 'UTC', archive_public: 'on' });
  assert.equal(res.statusCode, 303, res.body.slice(0, 300));
  return agent;
}
