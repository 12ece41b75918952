import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { NewSubscriberRow, SubscriberRow, SubscriberUpdate, SubscriptionStatus } from '../../db/tables/subscribers.js';
import type { SubscriberFilter } from './filters.js';
import { filteredSubscribers } from './list-repository.js';

export async function findSubscriber(db: DbOrTx, id: number): Promise<SubscriberRow | undefined> {
  return db.selectFrom('subscribers').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findSubscriberIdByEmail(db: DbOrTx, email: string): Promise<number | undefined> {
  return (await db.selectFrom('subscribers').select('id').where('email', '=', email).executeTakeFirst())?.id;
}

export async function insertSubscriber(db: DbOrTx, row: NewSubscriberRow): Promise<number> {
  return (await db.insertInto('subscribers').values(row).returning('id').executeTakeFirstOrThrow()).id;
}

export async function updateSubscriber(db: DbOrTx, id: number, changes: SubscriberUpdate): Promise<void> {
  await db.updateTable('subscribers').set(changes).where('id', '=', id).execute();
}

export interface SubscriptionView {
  id: number;
  newsletter_id: number;
  newsletter_name: string;
  status: SubscriptionStatus;
  source: string;
  created_at: number;
  confirmed_at: number | null;
  unsubscribed_at: number | null;
  confirm_sent_at: number | null;
}

export async function listSubscriptionsOf(db: DbOrTx, subscriberId: number): Promise<SubscriptionView[]> {
  return db
    .selectFrom('subscriptions as sn')
    .innerJoin('newsletters as n', 'n.id', 'sn.newsletter_id')
    .select([
      'sn.id', 'sn.newsletter_id', 'n.name as newsletter_name', 'sn.status', 'sn.source', 'sn.created_at',
      'sn.confirmed_at', 'sn.unsubscribed_at', 'sn.confirm_sent_at',
    ])
    .where('sn.subscriber_id', '=', subscriberId)
    .orderBy('n.name')
    .execute();
}

export async function insertSubscription(
  db: DbOrTx,
  row: { subscriberId: number; newsletterId: number; status: 'active' | 'pending'; source: string; at: number },
): Promise<number> {
  const inserted = await db
    .insertInto('subscriptions')
    .values({
      subscriber_id: row.subscriberId,
      newsletter_id: row.newsletterId,
      status: row.status,
      source: row.source,
      consent_ip: null,
      confirm_sent_at: null,
      created_at: row.at,
      confirmed_at: row.status === 'active' ? row.at : null,
      unsubscribed_at: null,
      updated_at: row.at,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return inserted.id;
}

/** Unsubscribes from one newsletter, or all when `newsletterId` is null; returns the newsletters it changed. */
export async function unsubscribe(db: DbOrTx, subscriberId: number, newsletterId: number | null, at: number): Promise<number[]> {
  let q = db
    .updateTable('subscriptions')
    .set({ status: 'unsubscribed', unsubscribed_at: at, updated_at: at })
    .where('subscriber_id', '=', subscriberId)
    .where('status', 'in', ['active', 'pending']);
  if (newsletterId !== null) q = q.where('newsletter_id', '=', newsletterId);
  const rows = await q.returning('newsletter_id').execute();
  return rows.map((r) => r.newsletter_id);
}

// ---- tags ----

export interface TagView {
  id: number;
  name: string;
}

export async function listTags(db: DbOrTx): Promise<TagView[]> {
  return db.selectFrom('tags').select(['id', 'name']).orderBy('name').execute();
}

export async function findTag(db: DbOrTx, id: number): Promise<TagView | undefined> {
  return db.selectFrom('tags').select(['id', 'name']).where('id', '=', id).executeTakeFirst();
}

/** Finds a tag by name ignoring case, or creates it; safe against a concurrent create of the same name. */
export async function findOrCreateTag(db: DbOrTx, name: string, at: number): Promise<TagView> {
  const existing = await db
    .selectFrom('tags')
    .select(['id', 'name'])
    .where(sql`lower(name)`, '=', name.toLowerCase())
    .orderBy('id')
    .executeTakeFirst();
  if (existing) return existing;
  await db.insertInto('tags').values({ name, created_at: at }).onConflict((oc) => oc.column('name').doNothing()).execute();
  return db.selectFrom('tags').select(['id', 'name']).where('name', '=', name).executeTakeFirstOrThrow();
}

export async function tagsOf(db: DbOrTx, subscriberId: number): Promise<TagView[]> {
  return db
    .selectFrom('subscriber_tags as st')
    .innerJoin('tags as t', 't.id', 'st.tag_id')
    .select(['t.id', 't.name'])
    .where('st.subscriber_id', '=', subscriberId)
    .orderBy('t.name')
    .execute();
}

/** Returns whether the tag was newly added. */
export async function addTag(db: DbOrTx, subscriberId: number, tagId: number): Promise<boolean> {
  const rows = await db
    .insertInto('subscriber_tags')
    .values({ subscriber_id: subscriberId, tag_id: tagId })
    .onConflict((oc) => oc.columns(['subscriber_id', 'tag_id']).doNothing())
    .returning('tag_id')
    .execute();
  return rows.length > 0;
}

export async function removeTag(db: DbOrTx, subscriberId: number, tagId: number): Promise<boolean> {
  const result = await db.deleteFrom('subscriber_tags').where('subscriber_id', '=', subscriberId).where('tag_id', '=', tagId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Tags every subscriber in `ids`, or every one the filter matches, in one statement. */
export async function tagMany(db: DbOrTx, tagId: number, target: { ids: number[] } | { filter: SubscriberFilter }): Promise<number> {
  const source =
    'ids' in target
      ? db.selectFrom('subscribers as s').where('s.id', 'in', target.ids.length ? target.ids : [0])
      : filteredSubscribers(db, target.filter);
  const result = await db
    .insertInto('subscriber_tags')
    .columns(['subscriber_id', 'tag_id'])
    .expression(source.select(['s.id as subscriber_id', sql<number>`${tagId}`.as('tag_id')]))
    .onConflict((oc) => oc.columns(['subscriber_id', 'tag_id']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0);
}

export async function untagMany(db: DbOrTx, tagId: number, target: { ids: number[] } | { filter: SubscriberFilter }): Promise<number> {
  let q = db.deleteFrom('subscriber_tags').where('tag_id', '=', tagId);
  q =
    'ids' in target
      ? q.where('subscriber_id', 'in', target.ids.length ? target.ids : [0])
      : q.where('subscriber_id', 'in', filteredSubscribers(db, target.filter).select('s.id'));
  const result = await q.executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * GDPR erasure. The subscriber row goes, and with it (by cascade) subscriptions, confirmation tokens
 * and tags; events and tracking hits keep their anonymous rows (subscriber_id becomes NULL) but lose their payload, which
 * may hold an IP or an address. Finished deliveries keep their row for the post's counts with the
 * address replaced by its hash; a suppression (already only a hash) stays so the address is never
 * mailed again. Import reports drop the address too.
 */
export async function eraseSubscriber(db: DbOrTx, subscriber: { id: number; email: string; email_hash: string }): Promise<void> {
  await db.updateTable('events').set({ data: '{}' }).where('subscriber_id', '=', subscriber.id).execute();
  // Opens and clicks stay as anonymous counts, no longer tied to the person or their delivery.
  await db.updateTable('tracking_hits').set({ subscriber_id: null, delivery_id: null }).where('subscriber_id', '=', subscriber.id).execute();
  await db
    .updateTable('deliveries')
    .set({ email: `erased:${subscriber.email_hash}` })
    .where('subscriber_id', '=', subscriber.id)
    .where('status', 'in', ['sent', 'failed', 'skipped', 'cancelled'])
    .execute();
  await db.deleteFrom('import_problems').where('email', '=', subscriber.email).execute();
  // Bounce and complaint reports keep the hash (an import still skips a complainer) but not the address.
  await db.updateTable('feedback_reports').set({ address: `erased:${subscriber.email_hash}`, raw: null }).where('email_hash', '=', subscriber.email_hash).execute();
  await db.deleteFrom('subscribers').where('id', '=', subscriber.id).execute();
}
