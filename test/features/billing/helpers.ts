import assert from 'node:assert/strict';
import type { Dialect } from '../../../src/db/database.js';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { startFakeStripe, type FakeStripe } from '../../helpers/fake-stripe.js';

export interface PaidSetup {
  t: TestApp;
  stripe: FakeStripe;
  admin: Agent;
  newsletter: { id: number; slug: string };
  close(): Promise<void>;
}

/** An app wired to a fake Stripe on loopback, an owner signed in, and a €5/month, €50/year plan on the first newsletter. */
export async function paidSetup(dialect: Dialect, options: Parameters<typeof buildTestApp>[1] = {}): Promise<PaidSetup> {
  let now = () => Date.now();
  const stripe = await startFakeStripe({ now: () => now() });
  const t = await buildTestApp(dialect, { ...options, env: { ...stripe.env, ...options.env } });
  now = () => t.clock.now();
  const admin = await setupOwner(t);
  const newsletter = await t.db.db.selectFrom('newsletters').select(['id', 'slug']).executeTakeFirstOrThrow();
  await admin.get(`/admin/newsletters/${newsletter.id}/paid`);
  const saved = await admin.post(`/admin/newsletters/${newsletter.id}/paid`, { currency: 'eur', monthly: '5', yearly: '50' });
  assert.equal(saved.statusCode, 303, saved.body.slice(0, 400));
  return {
    t,
    stripe,
    admin,
    newsletter,
    async close() {
      await t.close();
      await stripe.close();
    },
  };
}

/** Posts an event to the webhook as Stripe does: the JSON body signed with the endpoint's secret. */
export async function deliver(s: PaidSetup, event: object, o: { secret?: string; header?: string | null; timestamp?: number } = {}) {
  const payload = JSON.stringify(event);
  const signature = o.header === null ? undefined : (o.header ?? s.stripe.sign(payload, o.secret, o.timestamp));
  return s.t.app.inject({
    method: 'POST',
    url: '/webhooks/stripe',
    payload,
    headers: { 'content-type': 'application/json; charset=utf-8', ...(signature ? { 'stripe-signature': signature } : {}) },
  });
}

/** A reader goes through checkout on the subscribe page; returns the session Stripe created. */
export async function checkout(s: PaidSetup, email: string, plan: 'monthly' | 'yearly' = 'monthly') {
  const reader = s.t.agent();
  const res = await reader.post(`/n/${s.newsletter.slug}/paid`, { email, plan });
  assert.equal(res.statusCode, 303, res.body.slice(0, 400));
  const sessionId = /\/c\/pay\/(cs_test_\w+)/.exec(String(res.headers.location))?.[1];
  assert.ok(sessionId, `redirected to Stripe Checkout (${String(res.headers.location)})`);
  return { reader, sessionId };
}

/** Checkout completed and every event Stripe sends for it delivered, in Stripe's order. */
export async function paidReader(s: PaidSetup, email: string, plan: 'monthly' | 'yearly' = 'monthly') {
  const { sessionId } = await checkout(s, email, plan);
  const { subscription, events } = s.stripe.completeCheckout(sessionId);
  for (const e of events) assert.equal((await deliver(s, e)).statusCode, 200);
  const row = await paidRow(s, subscription.id);
  assert.ok(row, 'the webhook recorded the paid subscription');
  return { subscription, row };
}

export async function paidRow(s: PaidSetup, stripeSubscriptionId: string) {
  return s.t.db.db.selectFrom('paid_subscriptions').selectAll().where('stripe_subscription_id', '=', stripeSubscriptionId).executeTakeFirst();
}

export async function access(s: PaidSetup, email: string) {
  const row = await s.t.db.db
    .selectFrom('subscriptions as sn')
    .innerJoin('subscribers as sb', 'sb.id', 'sn.subscriber_id')
    .select(['sn.paid_access', 'sn.status', 'sb.token'])
    .where('sb.email', '=', email)
    .where('sn.newsletter_id', '=', s.newsletter.id)
    .executeTakeFirst();
  return row;
}
