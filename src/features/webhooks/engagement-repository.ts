import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { HitKind, HitVerdict } from '../../db/tables/tracking.js';

/** The SQL behind opened and clicked webhooks: people's tracking hits, first ones and hourly sums. */

/** The verdicts that are people (machines never trigger a webhook): see features/tracking/classify.ts. */
const PEOPLE: HitVerdict[] = ['human', 'proxy_open'];

export interface PersonalHit {
  id: number;
  post_id: number;
  kind: HitKind;
  subscriber_id: number;
  url: string | null;
  created_at: number;
}

/**
 * A reader's first open of a post, and first click on each of its links, after hit `after`: the hits
 * that name their reader (per-subscriber tracking, with consent) and that no earlier hit of theirs repeats.
 */
export async function firstPersonalHits(db: DbOrTx, after: number, limit: number): Promise<PersonalHit[]> {
  const rows = await db
    .selectFrom('tracking_hits as h')
    .leftJoin('tracked_links as l', 'l.id', 'h.link_id')
    .select(['h.id', 'h.post_id', 'h.kind', 'h.subscriber_id', 'l.url', 'h.created_at'])
    .where('h.id', '>', after)
    .where('h.subscriber_id', 'is not', null)
    .where('h.verdict', 'in', PEOPLE)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('tracking_hits as e')
            .select(sql.lit(1).as('one'))
            .whereRef('e.subscriber_id', '=', 'h.subscriber_id')
            .whereRef('e.post_id', '=', 'h.post_id')
            .whereRef('e.kind', '=', 'h.kind')
            .whereRef('e.id', '<', 'h.id')
            .where('e.verdict', 'in', PEOPLE)
            .where((eb) => eb.or([eb('e.link_id', '=', eb.ref('h.link_id')), eb.and([eb('e.link_id', 'is', null), eb('h.link_id', 'is', null)])])),
        ),
      ),
    )
    .orderBy('h.id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ...r, subscriber_id: Number(r.subscriber_id), created_at: Number(r.created_at) }));
}

export interface AnonymousSum {
  post_id: number;
  kind: HitKind;
  hour: number;
  hits: number;
}

/** People's hits that name nobody (aggregate tracking, or readers who did not consent), per post, kind and hour. */
export async function anonymousSums(db: DbOrTx, from: number, until: number): Promise<AnonymousSum[]> {
  const hour = sql<number>`(created_at - (created_at % 3600000))`;
  const rows = await db
    .selectFrom('tracking_hits')
    .select(['post_id', 'kind', hour.as('hour'), (eb) => eb.fn.countAll<number>().as('hits')])
    .where('created_at', '>=', from)
    .where('created_at', '<', until)
    .where('subscriber_id', 'is', null)
    .where('verdict', 'in', PEOPLE)
    .groupBy(['post_id', 'kind', hour])
    .orderBy('post_id')
    .orderBy('kind')
    .orderBy(hour)
    .execute();
  return rows.map((r) => ({ post_id: r.post_id, kind: r.kind, hour: Number(r.hour), hits: Number(r.hits) }));
}
