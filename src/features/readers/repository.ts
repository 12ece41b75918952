import type { DbOrTx } from '../../db/database.js';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import type { SubscriberRow, SubscriptionRow, SubscriptionStatus } from '../../db/tables/subscribers.js';

export async function findSubscriberByEmail(db: DbOrTx, email: string): Promise<SubscriberRow | undefined> {
  return db.selectFrom('subscribers').selectAll().where('email', '=', email).executeTakeFirst();
}

export async function findSubscriberByToken(db: DbOrTx, token: string): Promise<SubscriberRow | undefined> {
  return db.selectFrom('subscribers').selectAll().where('token', '=', token).executeTakeFirst();
}

export async function insertSubscriber(
  db: DbOrTx,
  s: { email: string; emailHash: string; name: string; token: string; source: string; ip: string | null; at: number },
): Promise<number> {
  const row = await db
    .insertInto('subscribers')
    .values({ email: s.email, email_hash: s.emailHash, name: s.name, token: s.token, source: s.source, ip: s.ip, attributes: '{}', created_at: s.at, updated_at: s.at })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function updateSubscriberName(db: DbOrTx, id: number, name: string, at: number): Promise<void> {
  await db.updateTable('subscribers').set({ name, updated_at: at }).where('id', '=', id).execute();
}

export async function findSubscription(db: DbOrTx, subscriberId: number, newsletterId: number): Promise<SubscriptionRow | undefined> {
  return db
    .selectFrom('subscriptions')
    .selectAll()
    .where('subscriber_id', '=', subscriberId)
    .where('newsletter_id', '=', newsletterId)
    .executeTakeFirst();
}

export async function listSubscriptions(db: DbOrTx, subscriberId: number): Promise<SubscriptionRow[]> {
  return db.selectFrom('subscriptions').selectAll().where('subscriber_id', '=', subscriberId).orderBy('newsletter_id').execute();
}

export async function insertSubscription(
  db: DbOrTx,
  s: { subscriberId: number; newsletterId: number; status: SubscriptionStatus; source: string; ip: string | null; at: number; trackingConsentAt?: number | null },
): Promise<number> {
  const row = await db
    .insertInto('subscriptions')
    .values({
      subscriber_id: s.subscriberId,
      newsletter_id: s.newsletterId,
      status: s.status,
      source: s.source,
      consent_ip: s.ip,
      created_at: s.at,
      confirmed_at: s.status === 'active' ? s.at : null,
      tracking_consent_at: s.trackingConsentAt ?? null,
      updated_at: s.at,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Moves a subscription to `status` only from one of `from`; the returned count is the lock. */
export async function transitionSubscription(
  db: DbOrTx,
  id: number,
  from: SubscriptionStatus[],
  to: SubscriptionStatus,
  at: number,
  // trackingConsentAt: a resubscription's form decides tracking consent afresh, as a new subscription's does.
  extra: { source?: string; ip?: string | null; trackingConsentAt?: number | null } = {},
): Promise<boolean> {
  const result = await db
    .updateTable('subscriptions')
    .set({
      status: to,
      updated_at: at,
      ...(to === 'active' ? { confirmed_at: at, unsubscribed_at: null } : {}),
      ...(to === 'unsubscribed' ? { unsubscribed_at: at } : {}),
      ...(to === 'pending' ? { unsubscribed_at: null } : {}),
      ...(extra.source ? { source: extra.source } : {}),
      ...(extra.trackingConsentAt !== undefined ? { tracking_consent_at: extra.trackingConsentAt } : {}),
      ...(extra.ip !== undefined ? { consent_ip: extra.ip } : {}),
    })
    .where('id', '=', id)
    .where('status', 'in', from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function markConfirmSent(db: DbOrTx, subscriptionId: number, at: number): Promise<void> {
  await db.updateTable('subscriptions').set({ confirm_sent_at: at }).where('id', '=', subscriptionId).execute();
}

export async function insertConfirmationToken(db: DbOrTx, t: { hash: string; subscriptionId: number; at: number; expiresAt: number }): Promise<void> {
  await db
    .insertInto('confirmation_tokens')
    .values({ token_hash: t.hash, subscription_id: t.subscriptionId, created_at: t.at, expires_at: t.expiresAt, used_at: null })
    .execute();
}

export async function findConfirmationToken(db: DbOrTx, hash: string) {
  return db
    .selectFrom('confirmation_tokens as ct')
    .innerJoin('subscriptions as sn', 'sn.id', 'ct.subscription_id')
    .innerJoin('newsletters as n', 'n.id', 'sn.newsletter_id')
    .select([
      'ct.token_hash',
      'ct.expires_at',
      'ct.used_at',
      'sn.id as subscription_id',
      'sn.subscriber_id',
      'sn.status',
      'n.id as newsletter_id',
      'n.slug as newsletter_slug',
      'n.name as newsletter_name',
    ])
    .where('ct.token_hash', '=', hash)
    .executeTakeFirst();
}

/** Spends a token once: only the first caller while it is unused and unexpired gets `true`. */
export async function useConfirmationToken(db: DbOrTx, hash: string, at: number): Promise<boolean> {
  const result = await db
    .updateTable('confirmation_tokens')
    .set({ used_at: at })
    .where('token_hash', '=', hash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', at)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function listTagsOf(db: DbOrTx, subscriberId: number): Promise<string[]> {
  const rows = await db
    .selectFrom('subscriber_tags as st')
    .innerJoin('tags as t', 't.id', 'st.tag_id')
    .select('t.name')
    .where('st.subscriber_id', '=', subscriberId)
    .orderBy('t.name')
    .execute();
  return rows.map((r) => r.name);
}

export async function findSubscriberToken(db: DbOrTx, subscriberId: number): Promise<string | undefined> {
  const row = await db.selectFrom('subscribers').select('token').where('id', '=', subscriberId).executeTakeFirst();
  return row?.token;
}

export async function findNewsletterIdBySlug(db: DbOrTx, slug: string): Promise<number | undefined> {
  const row = await db.selectFrom('newsletters').select('id').where('slug', '=', slug).executeTakeFirst();
  return row?.id;
}

/** Every newsletter by name, for the preferences page (which shows a reader only some of them). */
export async function listNewslettersByName(db: DbOrTx): Promise<NewsletterRow[]> {
  return db.selectFrom('newsletters').selectAll().orderBy('name').execute();
}

/** A reader's subscriptions with their newsletter's name, for "download my data". */
export async function listSubscriptionsForExport(db: DbOrTx, subscriberId: number) {
  return db
    .selectFrom('subscriptions as sn')
    .innerJoin('newsletters as n', 'n.id', 'sn.newsletter_id')
    .select(['n.name as newsletter', 'sn.status', 'sn.source', 'sn.consent_ip', 'sn.created_at', 'sn.confirmed_at', 'sn.unsubscribed_at', 'sn.tracking_consent_at'])
    .where('sn.subscriber_id', '=', subscriberId)
    .execute();
}

/** A reader's whole event history, oldest first, for "download my data". */
export async function listEventsForExport(db: DbOrTx, subscriberId: number) {
  return db.selectFrom('events').select(['type', 'created_at', 'newsletter_id', 'data']).where('subscriber_id', '=', subscriberId).orderBy('id').execute();
}

/** Records (a time) or withdraws (null) a reader's consent to per-person tracking for one newsletter. */
export async function setTrackingConsent(db: DbOrTx, subscriberId: number, newsletterId: number, at: number | null): Promise<void> {
  await db
    .updateTable('subscriptions')
    .set({ tracking_consent_at: at })
    .where('subscriber_id', '=', subscriberId)
    .where('newsletter_id', '=', newsletterId)
    .execute();
}

/** The opens and clicks recorded as this reader's (only with their consent), for "download my data". */
export async function listHitsForExport(db: DbOrTx, subscriberId: number) {
  return db
    .selectFrom('tracking_hits as h')
    .innerJoin('posts as p', 'p.id', 'h.post_id')
    .leftJoin('tracked_links as l', 'l.id', 'h.link_id')
    .select(['p.subject', 'h.kind', 'l.url', 'h.verdict', 'h.created_at'])
    .where('h.subscriber_id', '=', subscriberId)
    .orderBy('h.id')
    .execute();
}
