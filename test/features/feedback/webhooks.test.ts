import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { emailHash } from '../../../src/domain/suppressions.js';
import { buildTestApp, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { reply, startSmtpServer, type TestSmtpServer } from '../../helpers/smtp-server.js';
import { addReaders, makeNewsletter, testRenderer, type Reader } from '../../sending/fixtures.js';
import { sendPost, suppressionOf } from './helpers.js';
import {
  brevoCall, mailgunCall, otherSendgridKey, postmarkCall, relayEnv, resendCall, sendgridCall, sendgridEvent, sesBounce, sesCall, startFakeSns,
  TOPIC_ARN, type Call, type FakeSns,
} from './relays.js';

interface Sent {
  email: string;
  messageId: string;
  relayId: string;
}

/** One provider's signed call about `r`, the same call tampered with, and the suppression it must cause. */
interface Case {
  provider: string;
  call: (r: Sent, now: number) => Call;
  tamper: (c: Call) => Call;
  reason: 'bounced' | 'complained';
}

const flipBody = (c: Call): Call => ({ ...c, payload: c.payload.replace(/5\.1\.1/, '5.1.2').replace('spamreport', 'spamreporT') });

for (const dialect of DIALECTS) {
  describe(`bounce webhooks (${dialect})`, () => {
    let sns: FakeSns;
    let t: TestApp;
    let smtp: TestSmtpServer;
    let readers: Reader[];
    let sent: Sent[];
    let relaySeq = 0;

    before(async () => {
      sns = await startFakeSns();
    });
    after(() => sns.close());

    beforeEach(async () => {
      smtp = await startSmtpServer();
      smtp.respond.onData = () => reply(250, `Ok 0100018f${String(++relaySeq).padStart(8, '0')}-relay-000000`);
      t = await buildTestApp(dialect, { env: { SMTP_URL: smtp.url, ...relayEnv({ BOUNCE_WEBHOOK_RATE_LIMIT: '25' }) }, renderer: testRenderer, snsTrust: sns.trust });
      const newsletterId = (await makeNewsletter(t.db.db, t.clock.now())).id;
      readers = await addReaders(t.db.db, newsletterId, t.clock.now(), 8);
      const { byEmail } = await sendPost(t, newsletterId);
      sent = readers.map((r) => {
        const d = byEmail.get(r.email)!;
        return { email: r.email, messageId: d.message_id, relayId: d.relay_id! };
      });
    });
    afterEach(async () => {
      await t.close();
      await smtp.close();
    });

    const post = (c: Call) => t.app.inject({ method: 'POST', url: c.url, headers: c.headers, payload: c.payload });
    const reportCount = async () => Number((await t.db.db.selectFrom('feedback_reports').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const suppressionCount = async () => Number((await t.db.db.selectFrom('suppressions').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    const cases: Case[] = [
      { provider: 'ses (SNS v1)', call: (r) => sesCall(sns, sesBounce(r.email, r.relayId)), tamper: flipBody, reason: 'bounced' },
      { provider: 'ses (SNS v2)', call: (r) => sesCall(sns, sesBounce(r.email, r.relayId), { version: '2' }), tamper: flipBody, reason: 'bounced' },
      { provider: 'postmark', call: (r) => postmarkCall(r.email, r.relayId), tamper: (c) => ({ ...c, headers: { ...c.headers, authorization: `Basic ${Buffer.from('pm-hooks:guess').toString('base64')}` } }), reason: 'bounced' },
      { provider: 'mailgun', call: (r, now) => mailgunCall(r.email, r.messageId, now), tamper: (c) => ({ ...c, payload: c.payload.replace(/"signature":"[0-9a-f]{4}/, '"signature":"0000') }), reason: 'bounced' },
      { provider: 'sendgrid', call: (r, now) => sendgridCall([sendgridEvent(r.email, r.messageId, r.relayId)], now), tamper: flipBody, reason: 'complained' },
      { provider: 'brevo', call: (r) => brevoCall(r.email, r.messageId), tamper: (c) => ({ ...c, headers: { ...c.headers, authorization: 'Bearer brevo-token-0123456789abcdeX' } }), reason: 'complained' },
      { provider: 'resend', call: (r, now) => resendCall(r.email, r.relayId, now), tamper: flipBody, reason: 'bounced' },
    ];

    it('each provider: a signed call suppresses its subscriber, a tampered one is refused, a replay counts once', async () => {
      for (const [i, c] of cases.entries()) {
        const r = sent[i]!;
        const call = c.call(r, t.clock.now());
        const bad = await post(c.tamper(call));
        assert.equal(bad.statusCode, 401, `${c.provider}: tampered → 401 (${bad.body.slice(0, 200)})`);
        assert.equal(await suppressionOf(t, emailHash(r.email)), undefined, `${c.provider}: nothing changed`);

        const res = await post(call);
        assert.equal(res.statusCode, 200, `${c.provider}: ${res.body.slice(0, 300)}`);
        assert.deepEqual(JSON.parse(res.body), { stored: 1, duplicates: 0, ignored: 0 }, c.provider);
        const s = await suppressionOf(t, emailHash(r.email));
        assert.equal(s?.reason, c.reason, c.provider);
        assert.equal(s?.source, c.provider.split(' ')[0], c.provider);
        const row = await t.db.db.selectFrom('feedback_reports').select(['delivery_id', 'address']).orderBy('id', 'desc').executeTakeFirstOrThrow();
        assert.notEqual(row.delivery_id, null, `${c.provider}: matched to its delivery`);
        assert.equal(row.address, r.email);

        const again = await post(call);
        assert.equal(again.statusCode, 200, c.provider);
        assert.deepEqual(JSON.parse(again.body), { stored: 0, duplicates: 1, ignored: 0 }, `${c.provider}: the replay counts once`);
      }
      assert.equal(await reportCount(), cases.length);
      assert.equal(await suppressionCount(), cases.length);
      for (const r of sent.slice(cases.length)) assert.equal(await suppressionOf(t, emailHash(r.email)), undefined, 'nobody else');
    });

    it('SES: refuses an unknown topic, a certificate off the allowed hosts and an unsigned message', async () => {
      const r = sent[0]!;
      const other = sesCall(sns, sesBounce(r.email, r.relayId), { topic: 'arn:aws:sns:eu-west-1:123456789012:someone-else' });
      assert.equal((await post(other)).statusCode, 401);
      const message = JSON.parse(sesCall(sns, sesBounce(r.email, r.relayId)).payload) as Record<string, string>;
      const evilCert = { ...message, SigningCertURL: 'https://sns.eu-west-1.amazonaws.com.evil.example/SimpleNotificationService-x.pem' };
      assert.equal((await post({ url: '/webhooks/bounces/ses', headers: { 'content-type': 'text/plain' }, payload: JSON.stringify(evilCert) })).statusCode, 401);
      const { Signature: _dropped, ...unsigned } = message;
      assert.equal((await post({ url: '/webhooks/bounces/ses', headers: { 'content-type': 'text/plain' }, payload: JSON.stringify(unsigned) })).statusCode, 401);
      assert.equal((await post({ url: '/webhooks/bounces/ses', headers: { 'content-type': 'text/plain' }, payload: '{"Type": "Notification"' })).statusCode, 400);
      assert.equal(await reportCount(), 0);
    });

    it('SES: confirms a subscription by visiting SubscribeURL, only once the message is verified', async () => {
      const subscribeUrl = `${sns.certUrl.replace(/\/[^/]+$/, '')}/confirm?Action=ConfirmSubscription&TopicArn=${TOPIC_ARN}&Token=abc`;
      const confirmation = sns.sign({ Type: 'SubscriptionConfirmation', MessageId: 'c-1', Token: 'abc', TopicArn: TOPIC_ARN, Message: 'You have chosen to subscribe…', SubscribeURL: subscribeUrl, Timestamp: '2026-11-22T12:00:00.000Z' });
      const forged = { ...confirmation, SubscribeURL: `${subscribeUrl}&forged=1` };
      assert.equal((await post({ url: '/webhooks/bounces/ses', headers: { 'content-type': 'text/plain' }, payload: JSON.stringify(forged) })).statusCode, 401);
      assert.equal(sns.confirmations.length, 0, 'nothing visited for a forged confirmation');
      const res = await post({ url: '/webhooks/bounces/ses', headers: { 'content-type': 'text/plain' }, payload: JSON.stringify(confirmation) });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(sns.confirmations.length, 1);
      assert.match(sns.confirmations[0]!, /Token=abc$/);
    });

    it('Mailgun: refuses a stale timestamp and a token reused for another event', async () => {
      const [a, b] = [sent[0]!, sent[1]!];
      const stale = mailgunCall(a.email, a.messageId, t.clock.now() - 6 * 60_000);
      assert.equal((await post(stale)).statusCode, 401);
      const first = mailgunCall(a.email, a.messageId, t.clock.now(), { token: 'reused-token-000000000000000000000000000' });
      assert.equal((await post(first)).statusCode, 200);
      const second = mailgunCall(b.email, b.messageId, t.clock.now(), { token: 'reused-token-000000000000000000000000000' });
      assert.equal((await post(second)).statusCode, 401, 'a captured signature cannot carry another event');
      assert.equal(await suppressionOf(t, emailHash(b.email)), undefined);
    });

    it('SendGrid and Resend: another key is refused; signed but malformed is a 400; ignored events are counted', async () => {
      const r = sent[0]!;
      assert.equal((await post(sendgridCall([sendgridEvent(r.email, r.messageId, r.relayId)], t.clock.now(), otherSendgridKey()))).statusCode, 401);
      assert.equal((await post(resendCall(r.email, r.relayId, t.clock.now(), { secret: `whsec_${Buffer.from('another secret, 24 bytes!').toString('base64')}` }))).statusCode, 401);
      const notArray = sendgridCall([], t.clock.now());
      const malformed = await post({ ...sendgridCall([], t.clock.now()), payload: '{}', headers: notArray.headers });
      assert.equal(malformed.statusCode, 401, 'the signature covers the body: a changed body is refused first');
      const signedObject = sendgridCall({} as never, t.clock.now());
      assert.equal((await post(signedObject)).statusCode, 400);
      const delivered = await post(sendgridCall([sendgridEvent(r.email, r.messageId, r.relayId, 'delivered'), sendgridEvent(r.email, r.messageId, r.relayId, 'deferred')], t.clock.now()));
      assert.deepEqual(JSON.parse(delivered.body), { stored: 0, duplicates: 0, ignored: 2 });
      assert.equal(await reportCount(), 0);
    });

    it('records concurrent calls together, each event once, each call told what became of its own', async () => {
      const calls = Array.from({ length: 14 }, (_, i) => brevoCall(`burst-${i}@example.com`, `<burst-${i}@x>`, undefined, 'hard_bounce'));
      // Eight of them arrive twice at the same moment, as a relay retrying a slow answer (24 calls: under the limit).
      const answers = await Promise.all([...calls, ...calls.slice(0, 8)].map(post));
      const bodies = answers.map((a) => JSON.parse(a.body) as { stored: number; duplicates: number });
      assert.deepEqual(answers.map((a) => a.statusCode), Array(22).fill(200));
      assert.equal(bodies.reduce((n, b) => n + b.stored, 0), 14);
      assert.equal(bodies.reduce((n, b) => n + b.duplicates, 0), 8);
      assert.ok(bodies.every((b) => b.stored + b.duplicates === 1));
      assert.equal(await reportCount(), 14);
    });

    it('rate-limits each provider with 429 and takes the retried call afterwards', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 26; i++) statuses.push((await post(brevoCall(`flood-${i}@example.com`, `<flood-${i}@x>`, undefined, 'hard_bounce'))).statusCode);
      assert.deepEqual(statuses.slice(0, 25), Array(25).fill(200));
      const refused = await post(brevoCall('flood-25@example.com', '<flood-25@x>', undefined, 'hard_bounce'));
      assert.equal(refused.statusCode, 429);
      assert.ok(Number(refused.headers['retry-after']) >= 1);
      assert.equal((await post(postmarkCall(sent[0]!.email, sent[0]!.relayId))).statusCode, 200, 'another provider has its own limit');
      t.clock.advance(1000);
      assert.equal((await post(brevoCall('flood-25@example.com', '<flood-25@x>', undefined, 'hard_bounce'))).statusCode, 200);
      assert.ok(await suppressionOf(t, emailHash('flood-25@example.com')), 'the retried call was recorded');
    });

    it('answers 404 for a provider without its secret and for an unknown provider', async () => {
      const bare = await buildTestApp(dialect);
      try {
        const r = sent[0]!;
        for (const c of [brevoCall(r.email, r.messageId), postmarkCall(r.email, r.relayId), sesCall(sns, sesBounce(r.email, r.relayId))]) {
          assert.equal((await bare.app.inject({ method: 'POST', url: c.url, headers: c.headers, payload: c.payload })).statusCode, 404, c.url);
        }
      } finally {
        await bare.close();
      }
      assert.equal((await post({ url: '/webhooks/bounces/mailjet', headers: { 'content-type': 'application/json' }, payload: '{}' })).statusCode, 404);
    });
  });
}
