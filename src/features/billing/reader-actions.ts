import { NotFoundError, ValidationError } from '../../lib/errors.js';
import { publicUrls } from '../../lib/urls.js';
import * as readers from '../readers/repository.js';
import { callStripe, type BillingDeps } from './deps.js';
import { findPlan, findNewsletterBySlug, listForSubscriber } from './repository.js';
import { formatAmount, snapshotOf } from './stripe-state.js';
import { applySubscriptionState } from './transitions-repository.js';
import type Stripe from 'stripe';

export type PauseLength = 0 | 1 | 2 | 3;

/** The end of a pause of `months` calendar months from `now` (UTC); 0 months is "until I resume". */
export function pauseEnd(now: number, months: PauseLength): number | null {
  if (months === 0) return null;
  const d = new Date(now);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.getTime();
}

/** Starts a Checkout session; the reader is subscribed later, by the webhook, once Stripe has the payment. */
export async function startCheckout(deps: BillingDeps, slug: string, input: { email: string; plan: 'monthly' | 'yearly' }): Promise<string> {
  const newsletter = await findNewsletterBySlug(deps.db, slug);
  if (!newsletter) throw new NotFoundError('There is no newsletter at this address.');
  const plan = await findPlan(deps.db, newsletter.id);
  const price = input.plan === 'yearly' ? plan?.yearly_price_id : plan?.monthly_price_id;
  if (!price) throw new ValidationError({ plan: 'This plan is not offered.' });
  const urls = publicUrls(deps.config.baseUrl);
  const metadata = { gazette_newsletter: String(newsletter.id), gazette_email: input.email };
  const session = await callStripe(() =>
    deps.stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ price, quantity: 1 }],
      customer_email: input.email,
      metadata,
      subscription_data: { metadata },
      success_url: `${urls.home(newsletter.slug)}/paid/thanks`,
      cancel_url: urls.home(newsletter.slug),
    }),
  );
  if (!session.url) throw new NotFoundError('Stripe returned no checkout page.');
  return session.url;
}

async function ownedSubscription(deps: BillingDeps, token: string, paidId: number) {
  const subscriber = await readers.findSubscriberByToken(deps.db, token);
  const row = subscriber ? (await listForSubscriber(deps.db, subscriber.id)).find((r) => r.id === paidId) : undefined;
  if (!subscriber || !row) throw new NotFoundError('This link is not valid.');
  return { subscriber, row };
}

/** Stripe's answer is the newest state there is: it is applied at once, and the webhook that follows finds it current. */
async function applyAnswer(deps: BillingDeps, sub: Stripe.Subscription): Promise<void> {
  await deps.db.transaction().execute((trx) => applySubscriptionState(trx, snapshotOf(sub), deps.clock.now()));
}

/**
 * Pausing stops both billing and paid posts: `pause_collection` with `void` works on every API version
 * and billing mode (Stripe leaves the status `active`, so stripe-state.ts reads it as paused).
 */
export async function pause(deps: BillingDeps, token: string, paidId: number, months: PauseLength): Promise<void> {
  const { row } = await ownedSubscription(deps, token, paidId);
  if (row.status === 'canceled') throw new ValidationError({ months: 'This subscription has ended.' });
  const until = pauseEnd(deps.clock.now(), months);
  const sub = await callStripe(() =>
    deps.stripe.subscriptions.update(row.stripe_subscription_id, {
      pause_collection: { behavior: 'void', ...(until ? { resumes_at: Math.floor(until / 1000) } : {}) },
    }),
  );
  await applyAnswer(deps, sub);
}

/** One click: collection resumes, and a pending cancellation is withdrawn too (the reader asked to keep it). */
export async function resume(deps: BillingDeps, token: string, paidId: number): Promise<void> {
  const { row } = await ownedSubscription(deps, token, paidId);
  if (row.status === 'canceled') throw new ValidationError({ action: 'This subscription has ended.' });
  const sub = await callStripe(() => deps.stripe.subscriptions.update(row.stripe_subscription_id, { pause_collection: '', cancel_at_period_end: false }));
  await applyAnswer(deps, sub);
}

/** Cancels at the end of the paid period: the reader keeps what they paid for. */
export async function cancel(deps: BillingDeps, token: string, paidId: number): Promise<void> {
  const { row } = await ownedSubscription(deps, token, paidId);
  if (row.status === 'canceled') return;
  const sub = await callStripe(() => deps.stripe.subscriptions.update(row.stripe_subscription_id, { cancel_at_period_end: true }));
  await applyAnswer(deps, sub);
}

/** Stripe's Customer Portal, for the card and the invoices; it returns to the preferences page. */
export async function portal(deps: BillingDeps, token: string, paidId: number): Promise<string> {
  const { row } = await ownedSubscription(deps, token, paidId);
  const session = await callStripe(() =>
    deps.stripe.billingPortal.sessions.create({ customer: row.stripe_customer_id, return_url: publicUrls(deps.config.baseUrl).preferences(token) }),
  );
  return session.url;
}

/** What the preferences page shows of each paid subscription. */
export async function readerPanel(deps: BillingDeps, subscriberId: number, token: string) {
  const now = deps.clock.now();
  const rows = await listForSubscriber(deps.db, subscriberId);
  return rows.map((r) => ({
    id: r.id,
    newsletter: r.newsletter_name,
    status: r.status,
    plan: r.plan,
    price: `${formatAmount(r.amount, r.currency)} a ${r.plan === 'yearly' ? 'year' : 'month'}`,
    nextPayment: r.status === 'canceled' || r.cancel_at_period_end === 1 || r.status === 'paused' ? null : r.current_period_end,
    accessUntil: r.cancel_at_period_end === 1 ? r.current_period_end : null,
    pauseUntil: r.pause_until,
    pauseChoices: ([1, 2, 3] as const).map((m) => ({ months: m, until: pauseEnd(now, m)! })),
    actionBase: `/billing/${encodeURIComponent(token)}/${r.id}`,
  }));
}

/** The one confirmation page before cancelling shows what the reader keeps and until when. */
export async function cancelPreview(deps: BillingDeps, token: string, paidId: number) {
  const { subscriber } = await ownedSubscription(deps, token, paidId);
  return (await readerPanel(deps, subscriber.id, token)).find((p) => p.id === paidId)!;
}
