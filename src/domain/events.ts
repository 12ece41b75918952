import type { DbOrTx } from '../db/database.js';
import type { EventRow } from '../db/tables/subscribers.js';
import { toJson } from '../db/codec.js';

/**
 * The append-only event log: confirm, subscribe, unsubscribe, bounce, complaint, import, … Anonymous
 * counts survive a GDPR wipe because subscriber_id is set to NULL rather than the row being deleted.
 * This module is the events table's repository, shared by the features and the sending engine.
 */
export type EventType =
  | 'subscribed'
  | 'confirmation_sent'
  | 'confirmed'
  | 'unsubscribed'
  | 'resubscribed'
  | 'preferences_updated'
  | 'bounced'
  | 'complained'
  | 'suppressed'
  | 'unsuppressed'
  | 'imported'
  | 'tagged'
  | 'untagged'
  | 'edited'
  | 'sent'
  | 'failed'
  | 'post_scheduled'
  | 'post_sent'
  | 'import_finished';

export async function recordEvent(
  db: DbOrTx,
  e: { type: EventType; at: number; subscriberId?: number | null; newsletterId?: number | null; postId?: number | null; data?: Record<string, unknown> },
): Promise<void> {
  await db
    .insertInto('events')
    .values({
      type: e.type,
      created_at: e.at,
      subscriber_id: e.subscriberId ?? null,
      newsletter_id: e.newsletterId ?? null,
      post_id: e.postId ?? null,
      data: toJson(e.data ?? {}),
    })
    .execute();
}

export async function listSubscriberEvents(db: DbOrTx, subscriberId: number, limit = 100): Promise<EventRow[]> {
  return db.selectFrom('events').selectAll().where('subscriber_id', '=', subscriberId).orderBy('id', 'desc').limit(limit).execute();
}
