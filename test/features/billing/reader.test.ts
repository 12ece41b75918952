import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { DIALECTS } from '../../helpers/db.js';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp-server.js';
import { addReaders, makePost } from '../../sending/fixtures.js';
import { access, paidReader, paidRow, paidSetup, type PaidSetup } from './helpers.js';

const DAY = 86_400_000;

/**
 * What a paying reader does from their preferences page (pause, resume, cancel, the portal), the
 * restart reminder, and who a paid post reaches, sent by the real engine to an SMTP server.
 */
for (const dialect of DIALECTS) {
  describe(`paid readers (${dialect})`, () => {
    let s: PaidSetup;
    let smtp: TestSmtpServer | undefined;
    afterEach(async () => {
      await s?.close();
      await smtp?.close();
      smtp = undefined;
    });

    it('shows plan and next payment with Pause, Cancel and Update card as equal buttons; each acts in one step', async () => {
      s = await paidSetup(dialect);
      const { subscription } = await paidReader(s, 'pat@example.com');
      const token = (await access(s, 'pat@example.com'))!.token;
      const reader = s.t.agent();
      const page = await reader.get(`/preferences/${token}`);
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /Monthly plan, €5\.00 a month/);
      const periodEnd = new Date(subscription.items.data[0].current_period_end * 1000).toISOString().slice(0, 10);
      assert.match(page.body, new RegExp(`Next payment: ${periodEnd}`));
      const buttons = [...page.body.matchAll(/<button type="submit" class="([^"]+)">([^<]+)<\/button>/g)].filter((m) => m[1] === 'plan-action').map((m) => m[2]);
      assert.deepEqual(buttons, ['Pause', 'Cancel', 'Update card / invoices']);
      assert.match(page.body, /<option value="0">until I resume<\/option>/);
      const row = (await paidRow(s, subscription.id))!;
      const base = `/billing/${token}/${row.id}`;

      // Pause for one month: Stripe is asked to void invoices until then, and paid posts stop at once.
      const paused = await reader.post(`${base}/pause`, { months: '1' });
      assert.equal(paused.statusCode, 303);
      const call = s.stripe.requests.filter((r) => r.method === 'POST' && r.path === `/v1/subscriptions/${subscription.id}`).at(-1)!;
      assert.equal(call.params.pause_collection.behavior, 'void');
      const resumesAt = Number(call.params.pause_collection.resumes_at) * 1000;
      assert.ok(Math.abs(resumesAt - (s.t.clock.now() + 31 * DAY)) <= 3 * DAY, 'about a month from now');
      assert.equal((await paidRow(s, subscription.id))?.status, 'paused');
      assert.equal((await access(s, 'pat@example.com'))?.paid_access, 0);
      assert.match((await reader.get(`/preferences/${token}`)).body, /Paused until \d{4}-\d\d-\d\d/);
      assert.match((await s.admin.get('/admin')).body, /data-figure="paused">1</);
      // Stripe's webhook for the same change, arriving afterwards, agrees and changes nothing.
      for (const e of s.stripe.pendingEvents.splice(0)) assert.equal((await reader.request('POST', '/webhooks/stripe', JSON.stringify(e), { 'content-type': 'application/json', 'stripe-signature': s.stripe.sign(JSON.stringify(e)) })).statusCode, 200);
      assert.equal((await paidRow(s, subscription.id))?.status, 'paused');

      // Resume: one click.
      assert.equal((await reader.post(`${base}/resume`)).statusCode, 303);
      assert.equal((await paidRow(s, subscription.id))?.status, 'active');
      assert.equal((await access(s, 'pat@example.com'))?.paid_access, 1);

      // The unsubscribe page says that unsubscribing does not stop the payment, and links to cancelling.
      const unsubscribe = await reader.get(`/unsubscribe/${token}`);
      assert.match(unsubscribe.body, /Unsubscribing stops the emails but not a paid plan/);
      assert.ok(unsubscribe.body.includes(`href="${base}/cancel"`));

      // Cancel: one confirmation page, no offer, then cancelled at the end of the period.
      const confirm = await reader.get(`${base}/cancel`);
      assert.equal(confirm.statusCode, 200);
      assert.match(confirm.body, new RegExp(`ends on ${periodEnd}`));
      assert.doesNotMatch(confirm.body, /discount|offer|survey|reason/i);
      assert.equal((await reader.post(`${base}/cancel`)).statusCode, 303);
      const cancelled = await paidRow(s, subscription.id);
      assert.equal(cancelled?.cancel_at_period_end, 1);
      assert.equal(cancelled?.status, 'active', 'access lasts until the period ends');
      assert.match((await reader.get(`/preferences/${token}`)).body, new RegExp(`you keep it until ${periodEnd}`));
      assert.doesNotMatch((await reader.get(`/unsubscribe/${token}`)).body, /not a paid plan/, 'a cancelled plan needs no warning');

      // Update card / invoices: Stripe's Customer Portal, returning to the preferences page.
      const portal = await reader.post(`${base}/portal`);
      assert.equal(portal.statusCode, 303);
      assert.match(String(portal.headers.location), /^https:\/\/billing\.stripe\.test\/p\/session\//);
      const portalCall = s.stripe.requests.find((r) => r.path === '/v1/billing_portal/sessions')!;
      assert.equal(portalCall.params.customer, row.stripe_customer_id);
      assert.equal(portalCall.params.return_url, `http://gazette.test/preferences/${token}`);

      // Another reader's token cannot act on this subscription.
      await paidReader(s, 'other@example.com');
      const otherToken = (await access(s, 'other@example.com'))!.token;
      assert.equal((await reader.post(`/billing/${otherToken}/${row.id}/pause`, { months: '2' })).statusCode, 404);
    });

    it('limits checkout attempts per address as sign-ups are limited', async () => {
      s = await paidSetup(dialect, { env: { SUBSCRIBE_RATE_LIMIT: '2' } });
      const reader = s.t.agent();
      const press = () => reader.post(`/n/${s.newsletter.slug}/paid`, { email: 'many@example.com', plan: 'monthly' });
      assert.equal((await press()).statusCode, 303);
      assert.equal((await press()).statusCode, 303);
      const third = await press();
      assert.equal(third.statusCode, 429);
      assert.ok(Number(third.headers['retry-after']) > 0);
      assert.equal(s.stripe.sessions.size, 2);
    });

    it('says so with a 503 and changes nothing when Stripe cannot be reached', async () => {
      s = await paidSetup(dialect);
      const { subscription } = await paidReader(s, 'down@example.com');
      const token = (await access(s, 'down@example.com'))!.token;
      const row = (await paidRow(s, subscription.id))!;
      await s.stripe.close();
      const res = await s.t.agent().post(`/billing/${token}/${row.id}/pause`, { months: '2' });
      assert.equal(res.statusCode, 503);
      assert.match(res.body, /Nothing was changed/);
      assert.equal((await paidRow(s, subscription.id))?.status, 'active');
    });

    it('emails a paused reader once, 7 days before billing restarts', async () => {
      s = await paidSetup(dialect);
      const { subscription } = await paidReader(s, 'rest@example.com');
      const token = (await access(s, 'rest@example.com'))!.token;
      const row = (await paidRow(s, subscription.id))!;
      await s.t.agent().post(`/billing/${token}/${row.id}/pause`, { months: '1' });
      const until = (await paidRow(s, subscription.id))!.pause_until!;
      const reminders = () => s.t.mailer.sent.filter((m) => m.subject.includes('restarts on'));

      s.t.clock.set(until - 8 * DAY);
      await s.t.jobs.runOnce('billing-restart-reminders');
      await s.t.mailOutbox.runOnce();
      assert.equal(reminders().length, 0, 'not yet: 8 days ahead');

      s.t.clock.set(until - 7 * DAY + 60_000);
      await s.t.jobs.runOnce('billing-restart-reminders');
      await s.t.jobs.runOnce('billing-restart-reminders');
      await s.t.mailOutbox.runOnce();
      s.t.clock.advance(DAY);
      await s.t.jobs.runOnce('billing-restart-reminders');
      await s.t.mailOutbox.runOnce();
      assert.equal(reminders().length, 1);
      const mail = reminders()[0]!;
      assert.equal(mail.to, 'rest@example.com');
      assert.match(mail.subject, new RegExp(new Date(until).toISOString().slice(0, 10)));
      assert.match(mail.text, new RegExp(`http://gazette.test/preferences/${token}`));
    });

    it('sends a paid post only to paying readers who are not paused, and a free-only post to the others', async () => {
      smtp = await startSmtpServer();
      s = await paidSetup(dialect, { env: { SMTP_URL: smtp.url } });
      const [free] = await addReaders(s.t.db.db, s.newsletter.id, s.t.clock.now(), 1, { prefix: 'free-' });
      await paidReader(s, 'paying@example.com');
      const pausedSub = await paidReader(s, 'paused@example.com');
      const endedSub = await paidReader(s, 'ended@example.com');
      const pausedRow = (await paidRow(s, pausedSub.subscription.id))!;
      await s.t.agent().post(`/billing/${(await access(s, 'paused@example.com'))!.token}/${pausedRow.id}/pause`, { months: '0' });
      s.t.clock.advance(60_000);
      const ended = s.stripe.event('customer.subscription.deleted', { ...endedSub.subscription, status: 'canceled', canceled_at: Math.floor(s.t.clock.now() / 1000) });
      await s.t.app.inject({ method: 'POST', url: '/webhooks/stripe', payload: JSON.stringify(ended), headers: { 'content-type': 'application/json', 'stripe-signature': s.stripe.sign(JSON.stringify(ended)) } });

      const sendTo = async (tier: 'paid' | 'free') => {
        const postId = await makePost(s.t.db.db, s.newsletter.id, s.t.clock.now(), { audience_tier: tier, subject: `For ${tier}` });
        await s.t.sending.startPost(postId);
        await s.t.sending.runOnce();
        return smtp!.messages.filter((m) => m.parsed?.subject === `For ${tier}`).flatMap((m) => m.envelope.to).sort();
      };
      assert.deepEqual(await sendTo('paid'), ['paying@example.com']);
      assert.deepEqual(await sendTo('free'), ['ended@example.com', free!.email, 'paused@example.com'].sort());
    });
  });
}
