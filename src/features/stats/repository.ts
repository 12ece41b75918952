import type { DbOrTx } from '../../db/database.js';
import type { HitKind, HitVerdict, NewsletterDayStatsRow, PostStatsRow, TrackingMode } from '../../db/tables/tracking.js';

/** The stats pages' reads: roll-ups only, never the raw hits or events of a post. */

const num = (v: unknown) => Number(v ?? 0);

function toStats(r: PostStatsRow): PostStatsRow {
  const out = { ...r } as Record<string, unknown>;
  for (const k of Object.keys(out)) out[k] = num(out[k]);
  return out as unknown as PostStatsRow;
}

export async function findPostStats(db: DbOrTx, postId: number): Promise<PostStatsRow | undefined> {
  const row = await db.selectFrom('post_stats').selectAll().where('post_id', '=', postId).executeTakeFirst();
  return row ? toStats(row) : undefined;
}

export interface HourRow {
  hour: number;
  kind: HitKind;
  verdict: HitVerdict;
  hits: number;
}

export async function postHours(db: DbOrTx, postId: number): Promise<HourRow[]> {
  const rows = await db.selectFrom('post_hour_stats').select(['hour', 'kind', 'verdict', 'hits']).where('post_id', '=', postId).orderBy('hour').execute();
  return rows.map((r) => ({ hour: num(r.hour), kind: r.kind, verdict: r.verdict, hits: num(r.hits) }));
}

export interface LinkRow {
  url: string;
  humanClicks: number;
  machineClicks: number;
  humanClickers: number;
}

export async function topLinks(db: DbOrTx, postId: number, limit: number): Promise<LinkRow[]> {
  const rows = await db
    .selectFrom('link_stats as s')
    .innerJoin('tracked_links as l', 'l.id', 's.link_id')
    .select(['l.url', 's.human_clicks', 's.machine_clicks', 's.human_clickers'])
    .where('s.post_id', '=', postId)
    .orderBy('s.human_clicks', 'desc')
    .orderBy('s.machine_clicks', 'desc')
    .orderBy('l.id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ url: r.url, humanClicks: num(r.human_clicks), machineClicks: num(r.machine_clicks), humanClickers: num(r.human_clickers) }));
}

export interface PostSummaryRow {
  id: number;
  subject: string;
  sentAt: number | null;
  mode: TrackingMode;
  stats: PostStatsRow | null;
}

/** The newsletter's sent posts, newest first, with their roll-ups: the comparison and the dashboard list. */
export async function recentPosts(db: DbOrTx, p: { newsletterId?: number; limit: number; before?: number }): Promise<PostSummaryRow[]> {
  let q = db
    .selectFrom('posts as p')
    .innerJoin('newsletters as n', 'n.id', 'p.newsletter_id')
    .leftJoin('post_stats as s', 's.post_id', 'p.id')
    .selectAll('s')
    .select(['p.id', 'p.subject', 'p.sent_at', 'p.started_at', 'n.tracking_mode'])
    .where('p.status', 'in', ['sent', 'sending', 'paused'])
    .where('p.started_at', 'is not', null);
  if (p.newsletterId !== undefined) q = q.where('p.newsletter_id', '=', p.newsletterId);
  if (p.before !== undefined) q = q.where('p.started_at', '<', p.before);
  const rows = await q.orderBy('p.started_at', 'desc').orderBy('p.id', 'desc').limit(p.limit).execute();
  return rows.map((r) => ({
    id: num(r.id),
    subject: r.subject,
    sentAt: r.sent_at === null ? (r.started_at === null ? null : num(r.started_at)) : num(r.sent_at),
    mode: r.tracking_mode,
    stats: r.post_id === null ? null : toStats(r as PostStatsRow),
  }));
}

export async function newsletterDays(db: DbOrTx, newsletterId: number | undefined, fromDay: number): Promise<NewsletterDayStatsRow[]> {
  let q = db
    .selectFrom('newsletter_day_stats')
    .select((eb) => [
      'day',
      eb.fn.sum<number>('subscribed').as('subscribed'),
      eb.fn.sum<number>('unsubscribed').as('unsubscribed'),
      eb.fn.sum<number>('bounced').as('bounced'),
      eb.fn.sum<number>('complained').as('complained'),
    ])
    .where('day', '>=', fromDay);
  if (newsletterId !== undefined) q = q.where('newsletter_id', '=', newsletterId);
  const rows = await q.groupBy('day').orderBy('day').execute();
  return rows.map((r) => ({
    newsletter_id: newsletterId ?? 0,
    day: num(r.day),
    subscribed: num(r.subscribed),
    unsubscribed: num(r.unsubscribed),
    bounced: num(r.bounced),
    complained: num(r.complained),
  }));
}

export async function activeSubscribers(db: DbOrTx, newsletterId: number | undefined): Promise<number> {
  let q = db.selectFrom('subscriptions').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'active');
  if (newsletterId !== undefined) q = q.where('newsletter_id', '=', newsletterId);
  return num((await q.executeTakeFirst())?.n);
}

export async function newsletterChoices(db: DbOrTx): Promise<Array<{ id: number; name: string; tracking_mode: string }>> {
  const rows = await db.selectFrom('newsletters').select(['id', 'name', 'tracking_mode']).orderBy('name').execute();
  return rows.map((r) => ({ id: num(r.id), name: r.name, tracking_mode: r.tracking_mode }));
}

export async function findPostHeader(db: DbOrTx, postId: number) {
  return db
    .selectFrom('posts as p')
    .innerJoin('newsletters as n', 'n.id', 'p.newsletter_id')
    .select(['p.id', 'p.subject', 'p.status', 'p.started_at', 'p.sent_at', 'p.newsletter_id', 'n.name as newsletter_name', 'n.tracking_mode', 'n.time_zone'])
    .where('p.id', '=', postId)
    .executeTakeFirst();
}

export interface ActivityRow {
  postId: number;
  subject: string;
  kind: HitKind;
  verdict: HitVerdict;
  at: number;
}

/** A consenting reader's own opens and clicks (the only per-person hits there are). */
export async function subscriberActivity(db: DbOrTx, subscriberId: number, limit: number): Promise<ActivityRow[]> {
  const rows = await db
    .selectFrom('tracking_hits as h')
    .innerJoin('posts as p', 'p.id', 'h.post_id')
    .select(['h.post_id', 'p.subject', 'h.kind', 'h.verdict', 'h.created_at'])
    .where('h.subscriber_id', '=', subscriberId)
    .where('h.kind', '!=', 'canary')
    .orderBy('h.created_at', 'desc')
    .orderBy('h.id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ postId: num(r.post_id), subject: r.subject, kind: r.kind, verdict: r.verdict, at: num(r.created_at) }));
}

export async function findSubscriberLabel(db: DbOrTx, id: number): Promise<{ id: number; email: string; name: string } | undefined> {
  const row = await db.selectFrom('subscribers').select(['id', 'email', 'name']).where('id', '=', id).executeTakeFirst();
  return row ? { id: num(row.id), email: row.email, name: row.name } : undefined;
}
