import type { Db, DbOrTx } from '../../db/database.js';
import type { TrackingMode } from '../../db/tables/tracking.js';
import type { Insertable } from 'kysely';
import type { TrackingHitsTable } from '../../db/tables/tracking.js';

/** The tracking routes' reads and the hits' group commit. */

export async function postTrackingModes(db: DbOrTx, postIds: number[]): Promise<Map<number, { mode: TrackingMode; newsletterId: number }>> {
  if (postIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('posts as p')
    .innerJoin('newsletters as n', 'n.id', 'p.newsletter_id')
    .select(['p.id', 'n.tracking_mode', 'n.id as newsletter_id'])
    .where('p.id', 'in', postIds)
    .execute();
  return new Map(rows.map((r) => [Number(r.id), { mode: r.tracking_mode, newsletterId: Number(r.newsletter_id) }]));
}

export interface DeliveryFacts {
  postId: number;
  subscriberId: number | null;
  sentAt: number | null;
  /** Whether the reader allows per-person tracking now (consent withdrawn later counts at once). */
  consents: boolean;
}

export async function deliveryFacts(db: DbOrTx, ids: number[]): Promise<Map<number, DeliveryFacts>> {
  const out = new Map<number, DeliveryFacts>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db
      .selectFrom('deliveries as d')
      .innerJoin('posts as p', 'p.id', 'd.post_id')
      .leftJoin('subscriptions as sn', (j) => j.onRef('sn.subscriber_id', '=', 'd.subscriber_id').onRef('sn.newsletter_id', '=', 'p.newsletter_id'))
      .select(['d.id', 'd.post_id', 'd.subscriber_id', 'd.sent_at', 'sn.tracking_consent_at'])
      .where('d.id', 'in', ids.slice(i, i + 500))
      .execute();
    for (const r of rows) {
      out.set(Number(r.id), {
        postId: Number(r.post_id),
        subscriberId: r.subscriber_id === null ? null : Number(r.subscriber_id),
        sentAt: r.sent_at === null ? null : Number(r.sent_at),
        consents: r.tracking_consent_at !== null,
      });
    }
  }
  return out;
}

/** One transaction for a whole batch of hits: the group commit that keeps a click spike cheap. */
export async function insertHits(db: Db, rows: Array<Insertable<TrackingHitsTable>>): Promise<void> {
  if (rows.length === 0) return;
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < rows.length; i += 500) await trx.insertInto('tracking_hits').values(rows.slice(i, i + 500)).execute();
  });
}
