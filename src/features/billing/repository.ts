import type { DbOrTx } from '../../db/database.js';
import type { PaidPlanRow, PaidPlansTable, PaidSubscriptionRow } from '../../db/tables/billing.js';
import type { AudienceTier } from '../../db/tables/posts.js';
import { ACCESS_STATUSES } from './stripe-state.js';

export async function findPlan(db: DbOrTx, newsletterId: number): Promise<PaidPlanRow | undefined> {
  return db.selectFrom('paid_plans').selectAll().where('newsletter_id', '=', newsletterId).executeTakeFirst();
}

export async function savePlan(db: DbOrTx, plan: PaidPlansTable): Promise<void> {
  const { newsletter_id: _id, created_at: _created, ...changes } = plan;
  await db
    .insertInto('paid_plans')
    .values(plan)
    .onConflict((oc) => oc.column('newsletter_id').doUpdateSet(changes))
    .execute();
}

/** Records a webhook event's id; false when it was processed before (Stripe delivers at least once). */
export async function recordEvent(db: DbOrTx, id: string, type: string, at: number): Promise<boolean> {
  const row = await db
    .insertInto('stripe_events')
    .values({ id, type, received_at: at })
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function findByStripeId(db: DbOrTx, stripeSubscriptionId: string): Promise<PaidSubscriptionRow | undefined> {
  return db.selectFrom('paid_subscriptions').selectAll().where('stripe_subscription_id', '=', stripeSubscriptionId).executeTakeFirst();
}

/** A reader's paid subscriptions with their newsletter, newest first; `subscriberId` comes from their token. */
export async function listForSubscriber(db: DbOrTx, subscriberId: number) {
  return db
    .selectFrom('paid_subscriptions as p')
    .innerJoin('newsletters as n', 'n.id', 'p.newsletter_id')
    .selectAll('p')
    .select(['n.name as newsletter_name', 'n.slug as newsletter_slug'])
    .where('p.subscriber_id', '=', subscriberId)
    .orderBy('p.id', 'desc')
    .execute();
}

/** Who to tell about a paid subscription, and about which newsletter. */
export async function findPaidContact(db: DbOrTx, stripeSubscriptionId: string) {
  return db
    .selectFrom('paid_subscriptions as p')
    .innerJoin('subscribers as s', 's.id', 'p.subscriber_id')
    .innerJoin('newsletters as n', 'n.id', 'p.newsletter_id')
    .select(['p.subscriber_id', 'p.newsletter_id', 's.email', 's.token', 'n.name as newsletter_name'])
    .where('p.stripe_subscription_id', '=', stripeSubscriptionId)
    .executeTakeFirst();
}

export async function findNewsletter(db: DbOrTx, id: number) {
  return db.selectFrom('newsletters').select(['id', 'name', 'slug']).where('id', '=', id).executeTakeFirst();
}

export async function findNewsletterBySlug(db: DbOrTx, slug: string) {
  return db.selectFrom('newsletters').select(['id', 'name', 'slug']).where('slug', '=', slug).executeTakeFirst();
}

export async function findSubscriberToken(db: DbOrTx, subscriberId: number) {
  return db.selectFrom('subscribers').select(['token', 'email']).where('id', '=', subscriberId).executeTakeFirst();
}

/** Paused subscriptions whose pause ends within the window and whose reminder for that end is not queued. */
export async function listRestartsDue(db: DbOrTx, from: number, until: number) {
  return db
    .selectFrom('paid_subscriptions as p')
    .innerJoin('newsletters as n', 'n.id', 'p.newsletter_id')
    .innerJoin('subscribers as s', 's.id', 'p.subscriber_id')
    .select(['p.id', 'p.pause_until', 'p.amount', 'p.currency', 'p.plan', 'p.subscriber_id', 'p.newsletter_id', 'n.name as newsletter_name', 's.email', 's.token'])
    .where('p.status', '=', 'paused')
    .where('p.pause_until', '>', from)
    .where('p.pause_until', '<=', until)
    .where((eb) => eb.or([eb('p.reminded_for', 'is', null), eb('p.reminded_for', '<>', eb.ref('p.pause_until'))]))
    .orderBy('p.id')
    .limit(500)
    .execute();
}

/** The writer's figures: paying and paused counts, monthly revenue (yearly plans count a twelfth), churn. */
export async function figures(db: DbOrTx, newsletterId: number | null, since: number) {
  let q = db.selectFrom('paid_subscriptions').select(['status', 'plan', 'amount', 'currency', 'canceled_at', 'created_at']);
  if (newsletterId !== null) q = q.where('newsletter_id', '=', newsletterId);
  const rows = await q.execute();
  const paying = rows.filter((r) => ACCESS_STATUSES.includes(r.status));
  const mrr = paying.reduce((sum, r) => sum + (r.plan === 'yearly' ? Math.round(r.amount / 12) : r.amount), 0);
  const churned = rows.filter((r) => r.status === 'canceled' && (r.canceled_at ?? 0) >= since).length;
  const atStart = rows.filter((r) => r.created_at < since && (r.status !== 'canceled' || (r.canceled_at ?? 0) >= since)).length;
  return {
    paying: paying.length,
    paused: rows.filter((r) => r.status === 'paused').length,
    mrr,
    currency: paying[0]?.currency ?? rows[0]?.currency ?? 'eur',
    churned,
    churnRate: atStart === 0 ? null : churned / atStart,
  };
}

/** Sets a post's audience tier while it can still change (not once its audience is frozen for sending). */
export async function setPostTier(db: DbOrTx, postId: number, tier: AudienceTier, at: number): Promise<boolean> {
  const result = await db
    .updateTable('posts')
    .set({ audience_tier: tier, updated_at: at })
    .where('id', '=', postId)
    .where('status', 'in', ['draft', 'scheduled'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function findPostTier(db: DbOrTx, postId: number) {
  return db.selectFrom('posts').select(['id', 'audience_tier', 'newsletter_id', 'status']).where('id', '=', postId).executeTakeFirst();
}
