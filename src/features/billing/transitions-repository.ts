import type { DbOrTx } from '../../db/database.js';
import type { PaidStatus } from '../../db/tables/billing.js';
import { ACCESS_STATUSES, type SubscriptionSnapshot } from './stripe-state.js';

/**
 * Every write of a paid subscription's status, and of the `subscriptions.paid_access` flag the sending
 * engine filters paid posts on, is a named statement here. Each is conditional: a Stripe state older than
 * the one applied (`last_event_at`) changes nothing, and `canceled` is final, as it is in Stripe. The
 * returned boolean is the row count: false means the state was stale or the row was not in a `from` status.
 */

const mirror = (s: SubscriptionSnapshot) => ({
  stripe_customer_id: s.customerId,
  plan: s.plan,
  amount: s.amount,
  currency: s.currency,
  status: s.status,
  current_period_end: s.currentPeriodEnd,
  pause_until: s.pauseUntil,
  cancel_at_period_end: s.cancelAtPeriodEnd ? 1 : 0,
  canceled_at: s.canceledAt,
});

/** A paid subscription seen for the first time; false when another delivery recorded it first. */
export async function recordPaidSubscription(
  db: DbOrTx,
  link: { subscriptionId: number; newsletterId: number; subscriberId: number },
  s: SubscriptionSnapshot,
  at: number,
): Promise<boolean> {
  const row = await db
    .insertInto('paid_subscriptions')
    .values({
      stripe_subscription_id: s.stripeSubscriptionId,
      subscription_id: link.subscriptionId,
      newsletter_id: link.newsletterId,
      subscriber_id: link.subscriberId,
      ...mirror(s),
      last_event_at: at,
      reminded_for: null,
      created_at: at,
      updated_at: at,
    })
    .onConflict((oc) => oc.column('stripe_subscription_id').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (row) await syncPaidAccess(db, link.subscriptionId);
  return row !== undefined;
}

/** Stripe's state as of `at` (an event's `created`, or the moment an API call answered), unless a newer one is applied. */
export async function applySubscriptionState(db: DbOrTx, s: SubscriptionSnapshot, at: number): Promise<boolean> {
  const result = await db
    .updateTable('paid_subscriptions')
    .set({ ...mirror(s), last_event_at: at, updated_at: at })
    .where('stripe_subscription_id', '=', s.stripeSubscriptionId)
    .where('last_event_at', '<=', at)
    .where('status', '<>', 'canceled')
    .executeTakeFirst();
  return afterWrite(db, s.stripeSubscriptionId, result.numUpdatedRows);
}

/** invoice.payment_failed: Stripe retries the card; access stays during that grace period. */
export async function markPastDue(db: DbOrTx, stripeSubscriptionId: string, at: number): Promise<boolean> {
  return moveStatus(db, stripeSubscriptionId, ['active', 'trialing'], 'past_due', at);
}

/** invoice.paid after a failed payment: back to active. */
export async function markPaidUp(db: DbOrTx, stripeSubscriptionId: string, at: number): Promise<boolean> {
  return moveStatus(db, stripeSubscriptionId, ['past_due', 'unpaid', 'incomplete'], 'active', at);
}

async function moveStatus(db: DbOrTx, stripeSubscriptionId: string, from: PaidStatus[], to: PaidStatus, at: number): Promise<boolean> {
  const result = await db
    .updateTable('paid_subscriptions')
    .set({ status: to, last_event_at: at, updated_at: at })
    .where('stripe_subscription_id', '=', stripeSubscriptionId)
    .where('status', 'in', from)
    .where('last_event_at', '<=', at)
    .executeTakeFirst();
  return afterWrite(db, stripeSubscriptionId, result.numUpdatedRows);
}

/** Marks the restart reminder of the pause ending at `pauseUntil` as queued; false when it already was. */
export async function markReminded(db: DbOrTx, id: number, pauseUntil: number): Promise<boolean> {
  const result = await db
    .updateTable('paid_subscriptions')
    .set({ reminded_for: pauseUntil })
    .where('id', '=', id)
    .where('status', '=', 'paused')
    .where('pause_until', '=', pauseUntil)
    .where((eb) => eb.or([eb('reminded_for', 'is', null), eb('reminded_for', '<>', pauseUntil)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

async function afterWrite(db: DbOrTx, stripeSubscriptionId: string, updated: bigint): Promise<boolean> {
  if (Number(updated) !== 1) return false;
  const row = await db.selectFrom('paid_subscriptions').select('subscription_id').where('stripe_subscription_id', '=', stripeSubscriptionId).executeTakeFirst();
  if (row) await syncPaidAccess(db, row.subscription_id);
  return true;
}

/** A reader may hold several Stripe subscriptions for one newsletter over time: any one with access counts. */
async function syncPaidAccess(db: DbOrTx, subscriptionId: number): Promise<void> {
  const paying = await db
    .selectFrom('paid_subscriptions')
    .select('id')
    .where('subscription_id', '=', subscriptionId)
    .where('status', 'in', [...ACCESS_STATUSES])
    .executeTakeFirst();
  await db.updateTable('subscriptions').set({ paid_access: paying ? 1 : 0 }).where('id', '=', subscriptionId).execute();
}
