import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import { bulkRows, bulkValues } from './bulk-rows.js';

/**
 * The statements of an import batch (batch.ts decides what to write). Each is set-based, with the batch's
 * rows as one bound parameter (see bulkRows), so its text is the same for any number of rows.
 */

export interface ImportedSubscriber {
  id: number;
  email: string;
  name: string;
  attributes: string;
}

/**
 * The hashes among `hashes` that are suppressed, or that ever complained (marked mail as spam): an import
 * never subscribes those again, even once the writer has lifted the suppression.
 */
export async function suppressedHashes(db: DbOrTx, hashes: string[]): Promise<string[]> {
  const found = await sql<{ email_hash: string }>`
    select email_hash from suppressions where email_hash in (select value from ${bulkValues(db, 'text', hashes)})
    union
    select email_hash from feedback_reports where kind = 'complaint' and email_hash in (select value from ${bulkValues(db, 'text', hashes)})`.execute(db);
  return found.rows.map((r) => r.email_hash);
}

export async function selectSubscribers(db: DbOrTx, emails: string[]): Promise<ImportedSubscriber[]> {
  const found = await sql<ImportedSubscriber>`
    select id, email, name, attributes from subscribers
    where email in (select value from ${bulkValues(db, 'text', emails)})`.execute(db);
  return found.rows;
}

/** Inserts new subscribers; a concurrent sign-up of the same address wins quietly and is not returned. */
export async function insertSubscribers(
  db: DbOrTx,
  rows: Array<[email: string, emailHash: string, name: string, attributes: string, token: string]>,
  at: number,
): Promise<Array<{ id: number; email: string }>> {
  const values = bulkRows(db, { email: 'text', email_hash: 'text', name: 'text', attributes: 'text', token: 'text' }, rows);
  const created = await sql<{ id: number; email: string }>`
      insert into subscribers (email, email_hash, name, attributes, token, source, ip, created_at, updated_at)
      select v.email, v.email_hash, v.name, v.attributes, v.token, 'import', null, cast(${at} as bigint), cast(${at} as bigint)
      from ${values} where true
      on conflict (email) do nothing
      returning id, email`.execute(db);
  return created.rows;
}

/**
 * Every subscription of these subscribers. By subscriber only, the caller filters the newsletter: given
 * "newsletter_id = ?" too, SQLite without statistics walks the newsletter's whole audience index
 * instead, and imports turn quadratic.
 */
export async function subscriptionsOf(db: DbOrTx, subscriberIds: number[]) {
  const found = await sql<{ id: number; subscriber_id: number; newsletter_id: number; status: string }>`
      select id, subscriber_id, newsletter_id, status from subscriptions
      where subscriber_id in (select value from ${bulkValues(db, 'bigint', subscriberIds)})`.execute(db);
  return found.rows;
}

export async function fillInSubscriber(db: DbOrTx, id: number, fill: { name?: string; attributes?: string }, at: number): Promise<void> {
  await db.updateTable('subscribers').set({ ...fill, updated_at: at }).where('id', '=', id).execute();
}

/** Subscribes these subscribers to the newsletter; an existing subscription is left alone and not returned. */
export async function insertSubscriptions(
  db: DbOrTx,
  subscriberIds: number[],
  newsletterId: number,
  status: 'active' | 'pending',
  at: number,
): Promise<Array<{ id: number; subscriber_id: number }>> {
  const created = await sql<{ id: number; subscriber_id: number }>`
      insert into subscriptions (subscriber_id, newsletter_id, status, source, consent_ip, confirm_sent_at, created_at, confirmed_at, unsubscribed_at, updated_at)
      select v.value, cast(${newsletterId} as integer), cast(${status} as text), 'import', null, null, cast(${at} as bigint),
        cast(${status === 'active' ? at : null} as bigint), null, cast(${at} as bigint)
      from ${bulkValues(db, 'bigint', subscriberIds)} where true
      on conflict (subscriber_id, newsletter_id) do nothing
      returning id, subscriber_id`.execute(db);
  return created.rows;
}

/** One 'imported' event per subscriber, with the same `data` (JSON text) on each. */
export async function recordImportedEvents(db: DbOrTx, subscriberIds: number[], newsletterId: number, data: string, at: number): Promise<void> {
  await sql`
        insert into events (type, subscriber_id, newsletter_id, post_id, data, created_at)
        select 'imported', v.value, cast(${newsletterId} as integer), null, cast(${data} as text), cast(${at} as bigint)
        from ${bulkValues(db, 'bigint', subscriberIds)}`.execute(db);
}

/** Activates those of these subscriptions that are still pending; returns their subscribers. */
export async function activatePending(db: DbOrTx, subscriptionIds: number[], at: number): Promise<number[]> {
  // "status || ''" keeps SQLite (without statistics) off the status index: given "status = ?", it
  // walked every pending subscription in the database to find this batch's few by id.
  const activated = await sql<{ subscriber_id: number }>`
      update subscriptions set status = 'active', confirmed_at = ${at}, updated_at = ${at}
      where id in (select value from ${bulkValues(db, 'bigint', subscriptionIds)}) and status || '' = 'pending'
      returning subscriber_id`.execute(db);
  return activated.rows.map((a) => a.subscriber_id);
}

/** Adds (subscriber, tag) pairs; returns the subscribers of the pairs that were new. */
export async function addTags(db: DbOrTx, pairs: [subscriberId: number, tagId: number][]): Promise<number[]> {
  const added = await sql<{ subscriber_id: number }>`
      insert into subscriber_tags (subscriber_id, tag_id)
      select v.subscriber_id, v.tag_id from ${bulkRows(db, { subscriber_id: 'bigint', tag_id: 'bigint' }, pairs)} where true
      on conflict (subscriber_id, tag_id) do nothing
      returning subscriber_id`.execute(db);
  return added.rows.map((a) => a.subscriber_id);
}
