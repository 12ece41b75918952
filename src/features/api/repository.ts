import type { DbOrTx } from '../../db/database.js';
import type { ApiIdempotencyRow, ApiKeyRow } from '../../db/tables/api.js';
import type { PostStatus } from '../../db/tables/posts.js';
import type { EventRow } from '../../db/tables/subscribers.js';

/** The SQL of the public API: keys, idempotent answers, and the lists it pages through by id. */

export async function insertKey(db: DbOrTx, k: { name: string; prefix: string; hash: string; scopes: string; at: number }): Promise<number> {
  const row = await db
    .insertInto('api_keys')
    .values({ name: k.name, prefix: k.prefix, key_hash: k.hash, scopes: k.scopes, created_at: k.at })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function listKeys(db: DbOrTx): Promise<ApiKeyRow[]> {
  return db.selectFrom('api_keys').selectAll().orderBy('id').execute();
}

export async function findLiveKeyByHash(db: DbOrTx, hash: string): Promise<ApiKeyRow | undefined> {
  return db.selectFrom('api_keys').selectAll().where('key_hash', '=', hash).where('revoked_at', 'is', null).executeTakeFirst();
}

/** Written at most once a minute per key: each write is durable, and "last used" needs no more. */
export async function touchKey(db: DbOrTx, id: number, at: number): Promise<void> {
  await db
    .updateTable('api_keys')
    .set({ last_used_at: at })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at - 60_000)]))
    .execute();
}

export async function revokeKey(db: DbOrTx, id: number, at: number): Promise<boolean> {
  const r = await db.updateTable('api_keys').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

export async function findIdempotent(db: DbOrTx, keyId: number, idempotencyKey: string): Promise<ApiIdempotencyRow | undefined> {
  return db.selectFrom('api_idempotency').selectAll().where('key_id', '=', keyId).where('idempotency_key', '=', idempotencyKey).executeTakeFirst();
}

/** Keeps the first answer; a concurrent twin that lost the race leaves the stored one alone. */
export async function saveIdempotent(db: DbOrTx, r: { keyId: number; idempotencyKey: string; fingerprint: string; status: number; body: string; at: number }): Promise<void> {
  await db
    .insertInto('api_idempotency')
    .values({ key_id: r.keyId, idempotency_key: r.idempotencyKey, fingerprint: r.fingerprint, status: r.status, body: r.body, created_at: r.at })
    .onConflict((oc) => oc.columns(['key_id', 'idempotency_key']).doNothing())
    .execute();
}

export async function pruneIdempotent(db: DbOrTx, before: number): Promise<void> {
  await db.deleteFrom('api_idempotency').where('created_at', '<', before).execute();
}

export interface SubscriberListFilter {
  after: number;
  limit: number;
  newsletterId?: number | undefined;
  status?: 'active' | 'pending' | 'unsubscribed' | undefined;
  tag?: string | undefined;
  email?: string | undefined;
}

/** Subscribers by id, after a cursor: a stable order in which rows added or removed meanwhile never shift the pages. */
export async function subscribersAfter(db: DbOrTx, f: SubscriberListFilter) {
  let q = db.selectFrom('subscribers as s').select(['s.id', 's.email', 's.name', 's.attributes', 's.source', 's.created_at', 's.updated_at']).where('s.id', '>', f.after);
  if (f.email !== undefined) q = q.where('s.email', '=', f.email);
  if (f.newsletterId !== undefined || f.status !== undefined) {
    q = q.where(({ exists, selectFrom }) => {
      let sub = selectFrom('subscriptions as sb').select('sb.id').whereRef('sb.subscriber_id', '=', 's.id');
      if (f.newsletterId !== undefined) sub = sub.where('sb.newsletter_id', '=', f.newsletterId);
      if (f.status !== undefined) sub = sub.where('sb.status', '=', f.status);
      return exists(sub);
    });
  }
  if (f.tag !== undefined) {
    const tag = f.tag.toLowerCase();
    q = q.where(({ exists, selectFrom }) =>
      exists(
        selectFrom('subscriber_tags as st')
          .innerJoin('tags as t', 't.id', 'st.tag_id')
          .select('st.tag_id')
          .whereRef('st.subscriber_id', '=', 's.id')
          .where((eb) => eb(eb.fn('lower', ['t.name']), '=', tag)),
      ),
    );
  }
  return q.orderBy('s.id').limit(f.limit).execute();
}

export async function subscriptionsOf(db: DbOrTx, subscriberIds: number[]) {
  if (subscriberIds.length === 0) return [];
  return db
    .selectFrom('subscriptions')
    .select(['subscriber_id', 'newsletter_id', 'status', 'created_at', 'confirmed_at', 'unsubscribed_at'])
    .where('subscriber_id', 'in', subscriberIds)
    .orderBy('newsletter_id')
    .execute();
}

export async function tagNamesOf(db: DbOrTx, subscriberIds: number[]) {
  if (subscriberIds.length === 0) return [];
  return db
    .selectFrom('subscriber_tags as st')
    .innerJoin('tags as t', 't.id', 'st.tag_id')
    .select(['st.subscriber_id', 't.id', 't.name'])
    .where('st.subscriber_id', 'in', subscriberIds)
    .orderBy('t.name')
    .execute();
}

export async function tagsAfter(db: DbOrTx, after: number, limit: number) {
  return db.selectFrom('tags').select(['id', 'name', 'created_at']).where('id', '>', after).orderBy('id').limit(limit).execute();
}

export async function newsletterList(db: DbOrTx) {
  return db.selectFrom('newsletters').select(['id', 'slug', 'name', 'description', 'double_opt_in', 'created_at']).orderBy('id').execute();
}

export async function eventsAfterId(db: DbOrTx, f: { after: number; limit: number; type?: string | undefined; since?: number | undefined; until?: number | undefined }): Promise<EventRow[]> {
  let q = db.selectFrom('events').selectAll().where('id', '>', f.after);
  if (f.type !== undefined) q = q.where('type', '=', f.type);
  if (f.since !== undefined) q = q.where('created_at', '>=', f.since);
  if (f.until !== undefined) q = q.where('created_at', '<', f.until);
  return q.orderBy('id').limit(f.limit).execute();
}

export async function postsAfter(db: DbOrTx, f: { after: number; limit: number; newsletterId?: number | undefined; status?: string | undefined }) {
  let q = db.selectFrom('posts').selectAll().where('id', '>', f.after);
  if (f.newsletterId !== undefined) q = q.where('newsletter_id', '=', f.newsletterId);
  if (f.status !== undefined) q = q.where('status', '=', f.status as PostStatus);
  return q.orderBy('id').limit(f.limit).execute();
}
