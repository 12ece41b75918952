import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { recordEvent } from '../../../src/domain/events.js';
import { DISABLE_AFTER_FAILURES, LEASE_MS, MAX_ATTEMPTS, RETRY_DELAYS_MS } from '../../../src/features/webhooks/deliver.js';
import { claimDelivery } from '../../../src/features/webhooks/repository.js';
import { SETTLE_MS } from '../../../src/features/webhooks/fanout.js';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { startReceiver, type Received } from './receiver.js';

/**
 * Checks a request as a receiver using the Standard Webhooks reference library would. The library's
 * `verify` also refuses a timestamp more than five minutes from the real time, and the test clock stands
 * elsewhere, so its `sign` (the same computation) is the oracle: some signature in the header must equal it.
 */
function verifies(secret: string, req: Received, body = req.body): boolean {
  const id = String(req.headers['webhook-id']);
  const timestamp = Number(req.headers['webhook-timestamp']);
  const expected = new Webhook(secret).sign(id, new Date(timestamp * 1000), body);
  return String(req.headers['webhook-signature']).split(' ').includes(expected);
}

const ALL_SUBSCRIBER_EVENTS = ['subscriber.created', 'subscriber.confirmed', 'subscriber.updated', 'subscriber.unsubscribed', 'subscriber.bounced', 'subscriber.complained'];

for (const dialect of DIALECTS) {
  describe(`outgoing webhooks (${dialect})`, () => {
    let t: TestApp;
    let admin: Agent;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    let newsletterId: number;

    beforeEach(async () => {
      t = await buildTestApp(dialect, { env: { WEBHOOKS_ALLOW_PRIVATE: 'true' } });
      admin = await setupOwner(t);
      receiver = await startReceiver();
      newsletterId = (await t.db.db.selectFrom('newsletters').select('id').executeTakeFirstOrThrow()).id;
    });
    afterEach(async () => {
      await receiver.close();
      await t.close();
    });

    /** Adds an endpoint through the admin form; returns its id and the secret shown once. */
    async function addEndpoint(types: string[] = ALL_SUBSCRIBER_EVENTS, url = receiver.url): Promise<{ id: number; secret: string }> {
      await admin.get('/admin/webhooks');
      const res = await admin.post('/admin/webhooks', { url, description: 'CRM', event_types: types });
      assert.equal(res.statusCode, 201, res.body.slice(0, 500));
      const secret = /id="secret"[^>]*value="(whsec_[^"]+)"/.exec(res.body)?.[1];
      assert.ok(secret, 'the secret is shown on the page');
      const row = await t.db.db.selectFrom('webhook_endpoints').select('id').orderBy('id', 'desc').executeTakeFirstOrThrow();
      return { id: row.id, secret };
    }

    const run = () => t.jobs.runOnce('webhooks');
    const deliveries = () => t.db.db.selectFrom('webhook_deliveries').selectAll().orderBy('id').execute();

    it('sends a subscriber added in the admin to the endpoint, signed so the reference library verifies it', async () => {
      const { secret } = await addEndpoint();
      const list = await admin.get('/admin/webhooks');
      assert.ok(!list.body.includes(secret.slice(6)), 'the secret is shown only once');

      await admin.get('/admin/subscribers/new');
      const add = await admin.post('/admin/subscribers', { email: 'ana@example.com', name: 'Ana', newsletter_id: String(newsletterId), status: 'active' });
      assert.equal(add.statusCode, 303);
      assert.equal((await run()).outcome, 'ok');

      assert.equal(receiver.received.length, 1);
      const [req] = receiver.received;
      assert.ok(verifies(secret, req!));
      assert.equal(Number(req!.headers['webhook-timestamp']), Math.floor(t.clock.now() / 1000));
      const verified = JSON.parse(req!.body) as { type: string; data: { subscriber: { email: string; name: string; status: string }; newsletter: { id: number } } };
      assert.equal(verified.type, 'subscriber.created');
      assert.equal(verified.data.subscriber.email, 'ana@example.com');
      assert.equal(verified.data.subscriber.status, 'active');
      assert.equal(verified.data.newsletter.id, newsletterId);
      assert.equal(req!.headers['content-type'], 'application/json');
      assert.match(String(req!.headers['user-agent']), /^Gazette-Webhooks\//);
      assert.ok(!verifies(secret, req!, req!.body.replace('ana@', 'eve@')), 'a tampered body does not verify');
      assert.ok(!verifies(`whsec_${Buffer.from('another key of the same length!').toString('base64')}`, req!), 'another secret does not verify');
      assert.equal((await deliveries())[0]?.status, 'delivered');
      assert.equal((await run()).outcome, 'ok', 'nothing more to do');
      assert.equal(receiver.received.length, 1, 'sent once');
    });

    it('retries on the schedule while the receiver is down, then delivers each event once, in order', async () => {
      await addEndpoint();
      const at = t.clock.now();
      for (const type of ['subscribed', 'confirmed', 'unsubscribed'] as const) await recordEvent(t.db.db, { type, at, newsletterId });
      receiver.answers.push(500, 503, 0);
      await run();
      assert.equal(receiver.received.length, 1, 'the first event failed; the others wait behind it');
      for (let i = 0; i < 2; i++) {
        t.clock.advance(RETRY_DELAYS_MS[i]! - 1);
        await run();
        assert.equal(receiver.received.length, 1 + i, 'not before its time');
        t.clock.advance(1);
        await run();
        assert.equal(receiver.received.length, 2 + i);
      }
      t.clock.advance(RETRY_DELAYS_MS[2]!);
      await run();
      const types = receiver.received.map((r) => (JSON.parse(r.body) as { type: string }).type);
      assert.deepEqual(types, ['subscriber.created', 'subscriber.created', 'subscriber.created', 'subscriber.created', 'subscriber.confirmed', 'subscriber.unsubscribed']);
      const ids = receiver.received.map((r) => r.headers['webhook-id']);
      assert.equal(new Set(ids.slice(0, 4)).size, 1, 'every attempt of one event carries the same webhook-id');
      assert.equal(new Set(ids).size, 3);
      const rows = await deliveries();
      assert.deepEqual(rows.map((d) => [d.status, d.attempts]), [['delivered', 4], ['delivered', 1], ['delivered', 1]]);
      const attempts = await t.db.db.selectFrom('webhook_attempts').selectAll().orderBy('id').execute();
      assert.deepEqual(attempts.map((a) => a.status_code), [500, 503, null, 200, 200, 200]);
      assert.match(attempts[0]!.response_excerpt, /no thanks \(500\)/);
      const page = await admin.get(`/admin/webhooks/${rows[0]!.endpoint_id}`);
      assert.match(page.body, /no thanks \(500\)/);
    });

    it('gives an event up after the last attempt and goes on with the next; 410 switches the endpoint off', async () => {
      const { id } = await addEndpoint();
      await recordEvent(t.db.db, { type: 'subscribed', at: t.clock.now(), newsletterId });
      await recordEvent(t.db.db, { type: 'confirmed', at: t.clock.now(), newsletterId });
      receiver.answers.push(...Array.from({ length: MAX_ATTEMPTS }, () => 500));
      await run();
      for (const delay of RETRY_DELAYS_MS) {
        t.clock.advance(delay);
        await run();
      }
      assert.equal(receiver.received.length, MAX_ATTEMPTS + 1, 'the last attempt failed and the next event went out');
      assert.deepEqual((await deliveries()).map((d) => d.status), ['failed', 'delivered']);

      receiver.answers.push(410);
      await recordEvent(t.db.db, { type: 'unsubscribed', at: t.clock.now(), newsletterId });
      await run();
      const endpoint = await t.db.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      assert.equal(endpoint.status, 'disabled');
      assert.match(endpoint.disabled_reason ?? '', /410 Gone/);
      const mail = t.mailer.sent.find((m) => m.subject === 'A webhook endpoint was switched off');
      assert.ok(mail, 'the owner is told');
      assert.equal(mail.to, 'olive@example.com');

      // While it is off, events queue; replay and switching back on send them, in order.
      await recordEvent(t.db.db, { type: 'confirmed', at: t.clock.now(), newsletterId });
      await run();
      assert.equal((await deliveries()).length, 4);
      const failed = (await deliveries())[0]!;
      const replay = await admin.post(`/admin/webhooks/${id}/deliveries/${failed.id}/replay`);
      assert.equal(replay.statusCode, 303);
      const on = await admin.post(`/admin/webhooks/${id}/enable`);
      assert.equal(on.statusCode, 303);
      const before = receiver.received.length;
      await run();
      const sent = receiver.received.slice(before).map((r) => String(r.headers['webhook-id']));
      assert.deepEqual(sent, [failed.msg_id, (await deliveries())[3]!.msg_id], 'the replayed event, then the one the endpoint missed');
      assert.equal((await deliveries())[2]!.status, 'failed', 'the event answered with 410 stays given up');
    });

    it(`switches an endpoint off after ${DISABLE_AFTER_FAILURES} failures in a row, and never follows a redirect`, async () => {
      const { id } = await addEndpoint();
      receiver.answers.push(...Array.from({ length: DISABLE_AFTER_FAILURES }, () => 302));
      for (let i = 0; i < 3; i++) await recordEvent(t.db.db, { type: 'subscribed', at: t.clock.now(), newsletterId });
      for (let i = 0; i < DISABLE_AFTER_FAILURES; i++) {
        await run();
        t.clock.advance(11 * 3600_000);
      }
      assert.ok(receiver.received.every((r) => r.headers.host?.startsWith('hooks.test')), 'the redirect target was never asked');
      const endpoint = await t.db.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      assert.equal(endpoint.status, 'disabled');
      assert.match(endpoint.disabled_reason ?? '', /20 attempts in a row failed \(last: answered 302 \(redirects are not followed\)\)/);
    });

    it('refuses a private address unless the operator allows it, and lists the refusal as a failed attempt', async () => {
      await t.close();
      t = await buildTestApp(dialect);
      admin = await setupOwner(t);
      await addEndpoint(['subscriber.created']);
      await recordEvent(t.db.db, { type: 'subscribed', at: t.clock.now(), newsletterId });
      await run();
      assert.equal(receiver.received.length, 0);
      const [attempt] = await t.db.db.selectFrom('webhook_attempts').selectAll().execute();
      assert.match(attempt?.error ?? '', /unsafe-address/);
    });

    it('redelivers with the same webhook-id when the process died during an attempt', async () => {
      await addEndpoint();
      await recordEvent(t.db.db, { type: 'subscribed', at: t.clock.now(), newsletterId });
      // Fan the event out, then hold the attempt as a process would that is killed mid-request.
      receiver.answers.push(0);
      await run();
      const [row] = await deliveries();
      assert.equal(row?.status, 'pending');
      t.clock.advance(RETRY_DELAYS_MS[0]!);
      assert.ok(await claimDelivery(t.db.db, row!.id, t.clock.now(), LEASE_MS), 'claimed by the process that then dies');
      await run();
      assert.equal(receiver.received.length, 1, 'a live lease is left alone');
      t.clock.advance(LEASE_MS + 1);
      await run();
      assert.equal(receiver.received.length, 2);
      assert.equal(receiver.received[1]!.headers['webhook-id'], receiver.received[0]!.headers['webhook-id']);
      assert.equal((await deliveries())[0]?.status, 'delivered');
    });

    it('owes an endpoint only what happened after it was added, and each event once however often the log is read', async () => {
      await recordEvent(t.db.db, { type: 'subscribed', at: t.clock.now(), newsletterId });
      await run();
      t.clock.advance(1000);
      await addEndpoint(['subscriber.confirmed']);
      await recordEvent(t.db.db, { type: 'subscribed', at: t.clock.now(), newsletterId });
      await recordEvent(t.db.db, { type: 'confirmed', at: t.clock.now(), newsletterId });
      for (let i = 0; i < 3; i++) await run();
      t.clock.advance(SETTLE_MS + 1);
      await run();
      assert.deepEqual(
        receiver.received.map((r) => (JSON.parse(r.body) as { type: string }).type),
        ['subscriber.confirmed'],
      );
      assert.equal((await deliveries()).length, 1);
    });

    it('rotates the secret: both signatures go out for a day and each verifies', async () => {
      const { id, secret: old } = await addEndpoint();
      await admin.get(`/admin/webhooks/${id}`);
      const res = await admin.post(`/admin/webhooks/${id}/rotate`);
      const fresh = /id="secret"[^>]*value="(whsec_[^"]+)"/.exec(res.body)?.[1];
      assert.ok(fresh && fresh !== old);
      await recordEvent(t.db.db, { type: 'subscribed', at: t.clock.now(), newsletterId });
      await run();
      const req = receiver.received[0]!;
      assert.equal(String(req.headers['webhook-signature']).split(' ').length, 2);
      assert.ok(verifies(fresh, req));
      assert.ok(verifies(old, req));
      t.clock.advance(25 * 3600_000);
      await recordEvent(t.db.db, { type: 'subscribed', at: t.clock.now(), newsletterId });
      await run();
      const later = receiver.received[1]!;
      assert.ok(verifies(fresh, later));
      assert.ok(!verifies(old, later), 'a day later only the new secret signs');
    });

    it('checks the form: a bad address or no events is a 422 naming the field, and nothing is saved', async () => {
      await admin.get('/admin/webhooks');
      for (const [form, field, message] of [
        [{ url: 'ftp://example.com/x', event_types: ['post.sent'] }, 'url', /http:\/\/ or https:\/\//],
        [{ url: 'https://user:pw@example.com/x', event_types: ['post.sent'] }, 'url', /user name and password/],
        [{ url: 'not a url', event_types: ['post.sent'] }, 'url', /full address/],
        [{ url: 'https://example.com/x' }, 'event_types', /at least one event/],
        [{ url: 'https://example.com/x', event_types: ['post.deleted'] }, 'event_types', /from the list/],
      ] as const) {
        const res = await admin.post('/admin/webhooks', form as Record<string, string | string[]>);
        assert.equal(res.statusCode, 422, JSON.stringify(form));
        assert.match(res.body, new RegExp(`id="f-${field}-error"`));
        assert.match(res.body, message);
      }
      assert.equal((await t.db.db.selectFrom('webhook_endpoints').select('id').execute()).length, 0);
      assert.equal((await admin.get('/admin/webhooks/999')).statusCode, 404);
      assert.equal((await admin.post('/admin/webhooks/1/test')).statusCode, 404);
      assert.equal((await t.agent().get('/admin/webhooks')).statusCode, 303, 'signed-out visitors go to the login page');
    });
  });
}
