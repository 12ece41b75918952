import type { Db } from '../../db/database.js';
import type { WebhookEndpointRow } from '../../db/tables/webhooks.js';
import { fanOutEngagement } from './engagement.js';
import { logTypesFor, parseEventTypes, webhookTypeOf, type WebhookEventType } from './events.js';
import { webhookPayload, type PayloadContext } from './payload.js';
import {
  eventsAfter,
  firstSince,
  insertDeliveries,
  lastId,
  listEndpoints,
  newslettersByIds,
  postsByIds,
  readCursor,
  subscribersByIds,
  subscriptionStatuses,
  tagsOf,
  writeCursor,
  type NewDelivery,
} from './repository.js';

/**
 * Turns the event log into deliveries. The log is the source of truth: every feature already writes its
 * events in the transaction that decides them, so reading it after commit loses nothing, and a crash
 * between two passes only means the next pass reads the same events again (a delivery is owed once per
 * endpoint and event).
 *
 * On Postgres, ids are handed out before commit, so an event can become visible after a later one. The
 * cursor therefore stays before any event younger than SETTLE_MS, and those are read again next pass.
 */
export const SETTLE_MS = 30_000;
const BATCH = 500;

export const deliveryMsgId = (endpointId: number, eventId: number) => `msg_${endpointId}_${eventId}`;

async function context(db: Db, events: Array<{ subscriber_id: number | null; newsletter_id: number | null; post_id: number | null }>): Promise<PayloadContext> {
  const ids = (pick: (e: (typeof events)[number]) => number | null) => [...new Set(events.map(pick).filter((v): v is number => v !== null))];
  const subscriberIds = ids((e) => e.subscriber_id);
  const [subscribers, statuses, tags, newsletters, posts] = await Promise.all([
    subscribersByIds(db, subscriberIds),
    subscriptionStatuses(db, subscriberIds),
    tagsOf(db, subscriberIds),
    newslettersByIds(db, ids((e) => e.newsletter_id)),
    postsByIds(db, ids((e) => e.post_id)),
  ]);
  const ctx: PayloadContext = {
    subscribers: new Map(subscribers.map((s) => [s.id, { ...s, tags: [], statuses: new Map() }])),
    newsletters: new Map(newsletters.map((n) => [n.id, n])),
    posts: new Map(posts.map((p) => [p.id, p])),
  };
  for (const s of statuses) ctx.subscribers.get(s.subscriber_id)?.statuses.set(s.newsletter_id, s.status);
  for (const t of tags) ctx.subscribers.get(t.subscriber_id)?.tags.push(t.name);
  return ctx;
}

/** One pass: owes every endpoint the new events it subscribed to. Returns how many deliveries are new. */
export async function fanOut(db: Db, now: number): Promise<number> {
  // Switched-off endpoints are owed events too: they wait in the queue until the endpoint is on again.
  const endpoints = (await listEndpoints(db)).map((e) => ({ row: e, types: new Set(parseEventTypes(e.event_types)) }));
  const fromLog = await fanOutLog(db, now, endpoints);
  const engagement = await fanOutEngagement(db, now, SETTLE_MS, endpoints.map((e) => ({ id: e.row.id, createdAt: e.row.created_at, types: e.types })));
  return fromLog + engagement;
}

/** The event log's part: subscribers, posts scheduled and sent, imports. */
async function fanOutLog(db: Db, now: number, endpoints: Array<{ row: WebhookEndpointRow; types: Set<WebhookEventType> }>): Promise<number> {
  const newest = await lastId(db, 'events');
  // No endpoint: nothing is owed, and the cursor keeps up so the first endpoint does not start far behind.
  if (endpoints.length === 0) {
    if ((await readCursor(db)) !== newest) await writeCursor(db, newest, now);
    return 0;
  }
  // Never read yet: from the first event since the oldest endpoint was added.
  const since = Math.min(...endpoints.map((e) => e.row.created_at));
  const cursor = (await readCursor(db)) ?? ((await firstSince(db, 'events', 0, since)) ?? newest + 1) - 1;
  const types = logTypesFor(new Set(endpoints.flatMap((e) => [...e.types])));
  const hold = await firstSince(db, 'events', cursor, now - SETTLE_MS);
  let created = 0;
  let after = cursor;
  for (;;) {
    const events = await eventsAfter(db, after, types, BATCH);
    if (events.length === 0) break;
    const ctx = await context(db, events);
    const rows: NewDelivery[] = [];
    for (const event of events) {
      const type = webhookTypeOf(event.type);
      if (!type) continue;
      for (const e of endpoints) {
        if (!wants(e, type, event.created_at)) continue;
        rows.push({ endpointId: e.row.id, eventId: event.id, msgId: deliveryMsgId(e.row.id, event.id), eventType: type, payload: webhookPayload(type, event, ctx), at: now });
      }
    }
    created += await insertDeliveries(db, rows);
    after = events[events.length - 1]!.id;
    if (events.length < BATCH) break;
  }
  const settled = hold === undefined ? newest : hold - 1;
  if (settled > cursor) await writeCursor(db, settled, now);
  return created;
}

/** An endpoint is owed the events of its types that happened after it was added. */
function wants(e: { row: WebhookEndpointRow; types: Set<WebhookEventType> }, type: WebhookEventType, at: number): boolean {
  return e.types.has(type) && at >= e.row.created_at;
}
