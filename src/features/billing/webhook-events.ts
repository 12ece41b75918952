import type Stripe from 'stripe';
import type { Db, DbOrTx } from '../../db/database.js';
import { emailHash } from '../../domain/suppressions.js';
import { isValidEmail, normalizeEmail } from '../../lib/email.js';
import { randomToken } from '../../lib/tokens.js';
import * as readers from '../readers/repository.js';
import { enqueueMail } from '../../sending/mail-outbox.js';
import { publicUrls } from '../../lib/urls.js';
import { findByStripeId, findNewsletter, findPaidContact, recordEvent } from './repository.js';
import { snapshotOf, type SubscriptionSnapshot } from './stripe-state.js';
import { applySubscriptionState, markPaidUp, markPastDue, recordPaidSubscription } from './transitions-repository.js';

export interface EventLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export type EventOutcome = 'applied' | 'stale' | 'duplicate' | 'ignored';

const SUBSCRIPTION_EVENTS = new Set([
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'customer.subscription.paused',
  'customer.subscription.resumed',
]);

/**
 * Applies one verified webhook event. What changes is decided by the subscription object and its time,
 * never by the event's name alone: events come at least once and in any order, so an event id seen
 * before is dropped and a state older than the one applied is ignored (transitions-repository.ts).
 * The one network call (re-reading the subscription a completed checkout names) happens before the
 * transaction.
 */
export interface EventDeps {
  db: Db;
  stripe: Stripe;
  log: EventLog;
  now: number;
  /** Where the failed-payment notice comes from and links to. */
  mail: { from: string; baseUrl: string };
}

export async function processStripeEvent(deps: EventDeps, event: Stripe.Event): Promise<EventOutcome> {
  const { db, log } = deps;
  const at = event.created * 1000;
  let checkout: SubscriptionSnapshot | undefined;
  if (event.type === 'checkout.session.completed') {
    const session = event.data.object;
    if (session.mode !== 'subscription' || !session.subscription) return recordOnly(db, event, deps.now);
    const id = typeof session.subscription === 'string' ? session.subscription : session.subscription.id;
    const snap = snapshotOf(await deps.stripe.subscriptions.retrieve(id));
    checkout = { ...snap, newsletterId: snap.newsletterId ?? (Number(session.metadata?.gazette_newsletter) || undefined), email: snap.email ?? session.metadata?.gazette_email ?? session.customer_email ?? undefined };
  }
  return db.transaction().execute(async (trx) => {
    if (!(await recordEvent(trx, event.id, event.type, deps.now))) return 'duplicate';
    if (checkout) return upsertSubscription(trx, checkout, at, log);
    if (SUBSCRIPTION_EVENTS.has(event.type)) return upsertSubscription(trx, snapshotOf(event.data.object as Stripe.Subscription), at, log);
    if (event.type === 'invoice.paid' || event.type === 'invoice.payment_failed') {
      const subscriptionId = invoiceSubscription(event.data.object);
      if (!subscriptionId) return 'ignored';
      const moved = event.type === 'invoice.paid' ? await markPaidUp(trx, subscriptionId, at) : await markPastDue(trx, subscriptionId, at);
      if (event.type === 'invoice.payment_failed' && moved) {
        log.warn({ stripeSubscription: subscriptionId }, 'a paid subscription payment failed; Stripe retries the card');
        await queuePaymentFailedMail(trx, deps, subscriptionId);
      }
      return moved ? 'applied' : 'stale';
    }
    log.info({ eventId: event.id, type: event.type }, 'Stripe event acknowledged without action');
    return 'ignored';
  });
}

/** The reader hears once per failure (the transition is the lock), with the way to a new card. */
async function queuePaymentFailedMail(trx: DbOrTx, deps: EventDeps, stripeSubscriptionId: string): Promise<void> {
  const contact = await findPaidContact(trx, stripeSubscriptionId);
  if (!contact) return;
  const preferences = publicUrls(deps.mail.baseUrl).preferences(contact.token);
  await enqueueMail(trx, {
    kind: 'billing_payment_failed',
    now: deps.now,
    subscriberId: contact.subscriber_id,
    newsletterId: contact.newsletter_id,
    mail: {
      from: deps.mail.from,
      to: contact.email,
      subject: `Your payment for ${contact.newsletter_name} did not go through`,
      headers: { 'Auto-Submitted': 'auto-generated' },
      text: [
        `The last payment for your paid subscription to ${contact.newsletter_name} failed. Stripe tries the card again over the next days; meanwhile you keep receiving the paid posts.`,
        '',
        `To use another card (Update card / invoices), or to pause or cancel instead: ${preferences}`,
      ].join('\n'),
    },
  });
}

async function recordOnly(db: Db, event: Stripe.Event, now: number): Promise<EventOutcome> {
  return (await recordEvent(db, event.id, event.type, now)) ? 'ignored' : 'duplicate';
}

/** The subscription an invoice bills: `parent.subscription_details` on current API versions. */
function invoiceSubscription(invoice: Stripe.Invoice): string | undefined {
  const fromParent = invoice.parent?.subscription_details?.subscription;
  const legacy = (invoice as unknown as { subscription?: string | { id: string } | null }).subscription;
  const found = fromParent ?? legacy;
  if (!found) return undefined;
  return typeof found === 'string' ? found : found.id;
}

async function upsertSubscription(trx: DbOrTx, snap: SubscriptionSnapshot, at: number, log: EventLog): Promise<EventOutcome> {
  if (await findByStripeId(trx, snap.stripeSubscriptionId)) return (await applySubscriptionState(trx, snap, at)) ? 'applied' : 'stale';
  // A subscription first seen already over starts nothing; one Gazette did not sell is not its business.
  if (snap.status === 'canceled' || snap.status === 'incomplete_expired') return 'stale';
  const link = await linkReader(trx, snap, at);
  if (!link) {
    log.warn({ stripeSubscription: snap.stripeSubscriptionId }, 'a Stripe subscription names no newsletter or address of this Gazette; ignored');
    return 'ignored';
  }
  return (await recordPaidSubscription(trx, link, snap, at)) ? 'applied' : 'stale';
}

/**
 * The reader a paid subscription belongs to, subscribed (and confirmed: Stripe took their address and a
 * payment) to the newsletter it pays for. Created here, by the webhook, never by the checkout's return page.
 */
async function linkReader(trx: DbOrTx, snap: SubscriptionSnapshot, at: number) {
  if (!snap.newsletterId || !snap.email || !isValidEmail(snap.email)) return undefined;
  const newsletter = await findNewsletter(trx, snap.newsletterId);
  if (!newsletter) return undefined;
  const email = normalizeEmail(snap.email);
  const subscriber = await readers.findSubscriberByEmail(trx, email);
  const subscriberId =
    subscriber?.id ?? (await readers.insertSubscriber(trx, { email, emailHash: emailHash(email), name: '', token: randomToken(32), source: 'paid', ip: null, at }));
  const subscription = await readers.findSubscription(trx, subscriberId, newsletter.id);
  let subscriptionId = subscription?.id;
  if (subscriptionId === undefined) {
    subscriptionId = await readers.insertSubscription(trx, { subscriberId, newsletterId: newsletter.id, status: 'active', source: 'paid', ip: null, at });
  } else if (subscription?.status !== 'active') {
    await readers.transitionSubscription(trx, subscriptionId, ['pending', 'unsubscribed'], 'active', at, { source: 'paid' });
  }
  return { subscriptionId, newsletterId: newsletter.id, subscriberId };
}
