import type { DbOrTx } from '../../db/database.js';
import type { EventRow } from '../../db/tables/subscribers.js';
import type { WebhookAttemptRow, WebhookDeliveryRow, WebhookDeliveryStatus, WebhookEndpointRow } from '../../db/tables/webhooks.js';

/** The SQL of outgoing webhooks: endpoints, the deliveries owed to them, their attempts, the log cursor. */

const CURSOR_KEY = 'webhooks.event_cursor';

export async function insertEndpoint(
  db: DbOrTx,
  e: { url: string; description: string; eventTypes: string; secret: string; at: number },
): Promise<WebhookEndpointRow> {
  return db
    .insertInto('webhook_endpoints')
    .values({ url: e.url, description: e.description, event_types: e.eventTypes, secret: e.secret, status: 'active', created_at: e.at, updated_at: e.at })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function listEndpoints(db: DbOrTx): Promise<WebhookEndpointRow[]> {
  return db.selectFrom('webhook_endpoints').selectAll().orderBy('id').execute();
}

export async function activeEndpoints(db: DbOrTx): Promise<WebhookEndpointRow[]> {
  return db.selectFrom('webhook_endpoints').selectAll().where('status', '=', 'active').orderBy('id').execute();
}

export async function findEndpoint(db: DbOrTx, id: number): Promise<WebhookEndpointRow | undefined> {
  return db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function updateEndpoint(db: DbOrTx, id: number, e: { url: string; description: string; eventTypes: string; at: number }): Promise<boolean> {
  const r = await db
    .updateTable('webhook_endpoints')
    .set({ url: e.url, description: e.description, event_types: e.eventTypes, updated_at: e.at })
    .where('id', '=', id)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

export async function deleteEndpoint(db: DbOrTx, id: number): Promise<boolean> {
  const r = await db.deleteFrom('webhook_endpoints').where('id', '=', id).executeTakeFirst();
  return r.numDeletedRows > 0n;
}

export async function rotateSecret(db: DbOrTx, id: number, secret: string, previousUntil: number, at: number): Promise<boolean> {
  const r = await db
    .updateTable('webhook_endpoints')
    .set((eb) => ({ previous_secret: eb.ref('secret'), previous_secret_expires_at: previousUntil, secret, updated_at: at }))
    .where('id', '=', id)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

/** active → disabled, with the reason the writer reads; false when it was disabled already. */
export async function disableEndpoint(db: DbOrTx, id: number, reason: string, at: number): Promise<boolean> {
  const r = await db
    .updateTable('webhook_endpoints')
    .set({ status: 'disabled', disabled_reason: reason, updated_at: at })
    .where('id', '=', id)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

/** disabled → active, with a clean failure count. */
export async function enableEndpoint(db: DbOrTx, id: number, at: number): Promise<boolean> {
  const r = await db
    .updateTable('webhook_endpoints')
    .set({ status: 'active', disabled_reason: null, consecutive_failures: 0, updated_at: at })
    .where('id', '=', id)
    .where('status', '=', 'disabled')
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

export async function resetFailures(db: DbOrTx, id: number): Promise<void> {
  await db.updateTable('webhook_endpoints').set({ consecutive_failures: 0 }).where('id', '=', id).where('consecutive_failures', '>', 0).execute();
}

/** Counts one more failed attempt in a row; returns the new count. */
export async function countFailure(db: DbOrTx, id: number): Promise<number> {
  const row = await db
    .updateTable('webhook_endpoints')
    .set((eb) => ({ consecutive_failures: eb('consecutive_failures', '+', 1) }))
    .where('id', '=', id)
    .returning('consecutive_failures')
    .executeTakeFirst();
  return row?.consecutive_failures ?? 0;
}

/** Where a fan-out source has read up to: the event log's id by default, or another source's own key. */
export async function readCursor(db: DbOrTx, key = CURSOR_KEY): Promise<number | undefined> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  return row ? Number(row.value) : undefined;
}

export async function writeCursor(db: DbOrTx, id: number, at: number, key = CURSOR_KEY): Promise<void> {
  await db
    .insertInto('settings')
    .values({ key, value: String(id), updated_at: at })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: String(id), updated_at: at }))
    .execute();
}

/** The logs webhooks are read from: the event log, and tracking hits (opens and clicks). */
export type FanOutSource = 'events' | 'tracking_hits';

export async function lastId(db: DbOrTx, source: FanOutSource): Promise<number> {
  const row = await db.selectFrom(source).select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
  return Number(row?.id ?? 0);
}

export async function eventsAfter(db: DbOrTx, after: number, types: string[], limit: number): Promise<EventRow[]> {
  if (types.length === 0) return [];
  return db.selectFrom('events').selectAll().where('id', '>', after).where('type', 'in', types).orderBy('id').limit(limit).execute();
}

/** The first row after `after` made at or after `since` (epoch ms), if any: where a cursor must stay while commits settle. */
export async function firstSince(db: DbOrTx, source: FanOutSource, after: number, since: number): Promise<number | undefined> {
  const row = await db.selectFrom(source).select('id').where('id', '>', after).where('created_at', '>=', since).orderBy('id').limit(1).executeTakeFirst();
  return row?.id;
}

export interface SubscriberFacts {
  id: number;
  email: string;
  name: string;
  created_at: number;
}

export async function subscribersByIds(db: DbOrTx, ids: number[]): Promise<SubscriberFacts[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('subscribers').select(['id', 'email', 'name', 'created_at']).where('id', 'in', ids).execute();
}

export async function subscriptionStatuses(db: DbOrTx, subscriberIds: number[]): Promise<Array<{ subscriber_id: number; newsletter_id: number; status: string }>> {
  if (subscriberIds.length === 0) return [];
  return db.selectFrom('subscriptions').select(['subscriber_id', 'newsletter_id', 'status']).where('subscriber_id', 'in', subscriberIds).execute();
}

export async function tagsOf(db: DbOrTx, subscriberIds: number[]): Promise<Array<{ subscriber_id: number; name: string }>> {
  if (subscriberIds.length === 0) return [];
  return db
    .selectFrom('subscriber_tags as st')
    .innerJoin('tags as t', 't.id', 'st.tag_id')
    .select(['st.subscriber_id', 't.name'])
    .where('st.subscriber_id', 'in', subscriberIds)
    .orderBy('t.name')
    .execute();
}

export async function newslettersByIds(db: DbOrTx, ids: number[]): Promise<Array<{ id: number; slug: string; name: string }>> {
  if (ids.length === 0) return [];
  return db.selectFrom('newsletters').select(['id', 'slug', 'name']).where('id', 'in', ids).execute();
}

export async function postsByIds(
  db: DbOrTx,
  ids: number[],
): Promise<Array<{ id: number; newsletter_id: number; slug: string; subject: string; status: string; scheduled_at: number | null; sent_at: number | null }>> {
  if (ids.length === 0) return [];
  return db.selectFrom('posts').select(['id', 'newsletter_id', 'slug', 'subject', 'status', 'scheduled_at', 'sent_at']).where('id', 'in', ids).execute();
}

export interface NewDelivery {
  endpointId: number;
  eventId: number | null;
  msgId: string;
  eventType: string;
  payload: string;
  at: number;
}

/** Owes each delivery once: an event already owed to an endpoint is left alone. Returns how many are new. */
export async function insertDeliveries(db: DbOrTx, rows: NewDelivery[]): Promise<number> {
  if (rows.length === 0) return 0;
  const r = await db
    .insertInto('webhook_deliveries')
    .values(
      rows.map((d) => ({
        endpoint_id: d.endpointId,
        event_id: d.eventId,
        msg_id: d.msgId,
        event_type: d.eventType,
        payload: d.payload,
        status: 'pending' as const,
        next_attempt_at: d.at,
        created_at: d.at,
      })),
    )
    .onConflict((oc) => oc.doNothing())
    .returning('id')
    .execute();
  return r.length;
}

const OPEN: WebhookDeliveryStatus[] = ['pending', 'delivering'];

/** The oldest delivery an endpoint still owes: endpoints get their events one at a time, in order. */
export async function headDelivery(db: DbOrTx, endpointId: number): Promise<WebhookDeliveryRow | undefined> {
  return db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', endpointId).where('status', 'in', OPEN).orderBy('id').limit(1).executeTakeFirst();
}

/**
 * pending (due) or delivering (lease lapsed: its process died mid-attempt) → delivering, for one attempt.
 * Undefined when someone else took it or it is not due.
 */
export async function claimDelivery(db: DbOrTx, id: number, now: number, leaseMs: number): Promise<WebhookDeliveryRow | undefined> {
  return db
    .updateTable('webhook_deliveries')
    .set((eb) => ({ status: 'delivering', lease_until: now + leaseMs, attempts: eb('attempts', '+', 1) }))
    .where('id', '=', id)
    .where((eb) =>
      eb.or([
        eb.and([eb('status', '=', 'pending'), eb('next_attempt_at', '<=', now)]),
        eb.and([eb('status', '=', 'delivering'), eb('lease_until', '<', now)]),
      ]),
    )
    .returningAll()
    .executeTakeFirst();
}

/** delivering → delivered | pending (retry at `nextAttemptAt`) | failed. */
export async function settleDelivery(
  db: DbOrTx,
  id: number,
  s: { status: Exclude<WebhookDeliveryStatus, 'delivering'>; nextAttemptAt?: number; lastStatus: number | null; lastError: string | null; at: number },
): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({
      status: s.status,
      lease_until: null,
      last_status: s.lastStatus,
      last_error: s.lastError,
      ...(s.nextAttemptAt !== undefined ? { next_attempt_at: s.nextAttemptAt } : {}),
      ...(s.status === 'delivered' ? { delivered_at: s.at } : {}),
    })
    .where('id', '=', id)
    .where('status', '=', 'delivering')
    .execute();
}

/** delivered | failed → pending, due now, with a fresh attempt count: the writer's "Send again". */
export async function replayDelivery(db: DbOrTx, endpointId: number, id: number, now: number): Promise<boolean> {
  const r = await db
    .updateTable('webhook_deliveries')
    .set({ status: 'pending', attempts: 0, next_attempt_at: now, lease_until: null })
    .where('id', '=', id)
    .where('endpoint_id', '=', endpointId)
    .where('status', 'in', ['delivered', 'failed'])
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

export async function insertAttempt(
  db: DbOrTx,
  a: { deliveryId: number; endpointId: number; at: number; statusCode: number | null; durationMs: number; excerpt: string; error: string | null },
): Promise<void> {
  await db
    .insertInto('webhook_attempts')
    .values({ delivery_id: a.deliveryId, endpoint_id: a.endpointId, at: a.at, status_code: a.statusCode, duration_ms: a.durationMs, response_excerpt: a.excerpt, error: a.error })
    .execute();
}

export async function recentDeliveries(db: DbOrTx, endpointId: number, limit: number): Promise<WebhookDeliveryRow[]> {
  return db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', endpointId).orderBy('id', 'desc').limit(limit).execute();
}

export async function recentAttempts(db: DbOrTx, endpointId: number, limit: number): Promise<WebhookAttemptRow[]> {
  return db.selectFrom('webhook_attempts').selectAll().where('endpoint_id', '=', endpointId).orderBy('id', 'desc').limit(limit).execute();
}

export async function openCounts(db: DbOrTx): Promise<Map<number, number>> {
  const rows = await db
    .selectFrom('webhook_deliveries')
    .select(['endpoint_id', (eb) => eb.fn.countAll<number>().as('n')])
    .where('status', 'in', OPEN)
    .groupBy('endpoint_id')
    .execute();
  return new Map(rows.map((r) => [r.endpoint_id, Number(r.n)]));
}

/** Settled deliveries (and their attempts) older than `before` go; open ones stay whatever their age. */
export async function pruneDeliveries(db: DbOrTx, before: number): Promise<number> {
  const r = await db.deleteFrom('webhook_deliveries').where('status', 'in', ['delivered', 'failed']).where('created_at', '<', before).executeTakeFirst();
  return Number(r.numDeletedRows);
}

export async function ownerEmail(db: DbOrTx): Promise<string | undefined> {
  const row = await db.selectFrom('users').select('email').orderBy('id').limit(1).executeTakeFirst();
  return row?.email;
}
