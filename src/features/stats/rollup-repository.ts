import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { PostStatsTable } from '../../db/tables/tracking.js';

/**
 * The roll-ups' rebuilds. Each one replaces a post's (or a day range's) rows from the source of truth, so a
 * rebuild is idempotent and a hit committed late by another process is counted at the next refresh.
 */

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
const HUMAN = sql`('human', 'proxy_open')`;

export async function readWatermark(db: DbOrTx, name: string): Promise<number | undefined> {
  const row = await db.selectFrom('stats_watermarks').select('until').where('name', '=', name).executeTakeFirst();
  return row ? Number(row.until) : undefined;
}

export async function writeWatermark(db: DbOrTx, name: string, until: number): Promise<void> {
  await db
    .insertInto('stats_watermarks')
    .values({ name, until })
    .onConflict((oc) => oc.column('name').doUpdateSet({ until }))
    .execute();
}

/** Posts with hits since `since`, and posts sent (or sending) since `freshSince`. */
export async function postsToRefresh(db: DbOrTx, since: number, freshSince: number): Promise<number[]> {
  const withHits = await db.selectFrom('tracking_hits').select('post_id').distinct().where('created_at', '>=', since).execute();
  const fresh = await db
    .selectFrom('posts')
    .select('id')
    .where((eb) => eb.or([eb('status', 'in', ['sending', 'paused']), eb('sent_at', '>=', freshSince), eb('started_at', '>=', freshSince)]))
    .execute();
  return [...new Set([...withHits.map((r) => Number(r.post_id)), ...fresh.map((r) => Number(r.id))])].sort((a, b) => a - b);
}

export async function rebuildPostHours(db: DbOrTx, postId: number): Promise<void> {
  await db.deleteFrom('post_hour_stats').where('post_id', '=', postId).execute();
  await sql`insert into post_hour_stats (post_id, hour, kind, verdict, hits)
    select post_id, created_at - (created_at % ${sql.lit(HOUR_MS)}), kind, verdict, count(*)
    from tracking_hits where post_id = ${postId}
    group by post_id, created_at - (created_at % ${sql.lit(HOUR_MS)}), kind, verdict`.execute(db);
}

export async function rebuildLinkStats(db: DbOrTx, postId: number): Promise<void> {
  await db.deleteFrom('link_stats').where('post_id', '=', postId).execute();
  await sql`insert into link_stats (link_id, post_id, human_clicks, machine_clicks, human_clickers)
    select l.id, l.post_id,
      coalesce(sum(case when h.verdict in ${HUMAN} then 1 else 0 end), 0),
      coalesce(sum(case when h.verdict in ${HUMAN} then 0 when h.id is null then 0 else 1 end), 0),
      count(distinct case when h.verdict in ${HUMAN} then h.delivery_id end)
    from tracked_links l left join tracking_hits h on h.link_id = l.id and h.kind = 'click'
    where l.post_id = ${postId}
    group by l.id, l.post_id`.execute(db);
}

type PostCounts = Omit<PostStatsTable, 'post_id' | 'refreshed_at'>;

/**
 * One post's headline numbers. Unsubscribes are those of its recipients in its newsletter after it went
 * out and before the next post did (no unsubscribe link names a post).
 */
async function postCounts(db: DbOrTx, postId: number): Promise<PostCounts | undefined> {
  const post = await db.selectFrom('posts').select(['newsletter_id', 'started_at', 'sent_at']).where('id', '=', postId).executeTakeFirst();
  if (!post) return undefined;
  const start = Number(post.started_at ?? post.sent_at ?? 0);
  const next = await db
    .selectFrom('posts')
    .select((eb) => eb.fn.min('started_at').as('at'))
    .where('newsletter_id', '=', post.newsletter_id)
    .where('started_at', '>', start)
    .executeTakeFirst();
  const end = next?.at == null ? Number.MAX_SAFE_INTEGER : Number(next.at);
  const { rows } = await sql<Record<keyof PostCounts, unknown>>`select
      (select count(*) from deliveries where post_id = ${postId}) as recipients,
      (select count(*) from deliveries where post_id = ${postId} and status = 'sent') as delivered,
      (select count(*) from deliveries where post_id = ${postId} and status = 'failed') as failed,
      (select count(*) from events where type = 'bounced' and post_id = ${postId}) as bounced,
      (select count(*) from events where type = 'complained' and post_id = ${postId}) as complained,
      (select count(distinct e.subscriber_id) from events e
        where e.type = 'unsubscribed' and e.newsletter_id = ${post.newsletter_id} and e.created_at >= ${start} and e.created_at < ${end}
          and exists (select 1 from deliveries d where d.post_id = ${postId} and d.subscriber_id = e.subscriber_id)) as unsubscribed,
      (select coalesce(sum(hits), 0) from post_hour_stats where post_id = ${postId} and kind = 'open' and verdict in ${HUMAN}) as human_opens,
      (select coalesce(sum(hits), 0) from post_hour_stats where post_id = ${postId} and kind = 'open' and verdict not in ${HUMAN}) as machine_opens,
      (select coalesce(sum(hits), 0) from post_hour_stats where post_id = ${postId} and kind = 'click' and verdict in ${HUMAN}) as human_clicks,
      (select coalesce(sum(hits), 0) from post_hour_stats where post_id = ${postId} and kind = 'click' and verdict not in ${HUMAN}) as machine_clicks,
      (select count(distinct delivery_id) from tracking_hits where post_id = ${postId} and kind = 'open' and verdict in ${HUMAN}) as unique_openers,
      (select count(distinct delivery_id) from tracking_hits where post_id = ${postId} and kind = 'click' and verdict in ${HUMAN}) as unique_clickers`.execute(db);
  const r = rows[0]!;
  const n = (v: unknown) => Number(v ?? 0);
  return {
    recipients: n(r.recipients),
    delivered: n(r.delivered),
    failed: n(r.failed),
    bounced: n(r.bounced),
    complained: n(r.complained),
    unsubscribed: n(r.unsubscribed),
    human_opens: n(r.human_opens),
    machine_opens: n(r.machine_opens),
    human_clicks: n(r.human_clicks),
    machine_clicks: n(r.machine_clicks),
    unique_openers: n(r.unique_openers),
    unique_clickers: n(r.unique_clickers),
  };
}

export async function rebuildPostStats(db: DbOrTx, postId: number, now: number): Promise<void> {
  const counts = await postCounts(db, postId);
  await db.deleteFrom('post_stats').where('post_id', '=', postId).execute();
  if (counts) await db.insertInto('post_stats').values({ post_id: postId, ...counts, refreshed_at: now }).execute();
}

/** Rebuilds the per-newsletter daily rows of the days from `fromDay` on, from the event log. */
export async function rebuildNewsletterDays(db: DbOrTx, fromDay: number): Promise<void> {
  await db.deleteFrom('newsletter_day_stats').where('day', '>=', fromDay).execute();
  const day = sql`e.created_at - (e.created_at % ${sql.lit(DAY_MS)})`;
  const joined = sql`(e.type = 'confirmed' or (e.type in ('subscribed', 'resubscribed', 'imported') and e.data not like '%"status":"pending"%'))`;
  await sql`insert into newsletter_day_stats (newsletter_id, day, subscribed, unsubscribed, bounced, complained)
    select nl, day, sum(j), sum(u), sum(b), sum(c) from (
      select coalesce(e.newsletter_id, p.newsletter_id) as nl, ${day} as day,
        case when ${joined} then 1 else 0 end as j,
        case when e.type = 'unsubscribed' then 1 else 0 end as u,
        case when e.type = 'bounced' then 1 else 0 end as b,
        case when e.type = 'complained' then 1 else 0 end as c
      from events e left join posts p on p.id = e.post_id
      where e.type in ('confirmed', 'subscribed', 'resubscribed', 'imported', 'unsubscribed', 'bounced', 'complained')
        and e.created_at >= ${fromDay}
    ) x
    where nl is not null and exists (select 1 from newsletters n where n.id = x.nl)
    group by nl, day`.execute(db);
}

/** Per-person hits older than `before` keep only their anonymous count (the person and delivery go). */
export async function anonymiseHitsBefore(db: DbOrTx, before: number): Promise<number> {
  const result = await db
    .updateTable('tracking_hits')
    .set({ subscriber_id: null, delivery_id: null })
    .where('subscriber_id', 'is not', null)
    .where('created_at', '<', before)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
