import type { Db } from '../../db/database.js';
import { anonymousSums, firstPersonalHits, type AnonymousSum, type PersonalHit } from './engagement-repository.js';
import type { WebhookEventType } from './events.js';
import { firstSince, insertDeliveries, lastId, newslettersByIds, postsByIds, readCursor, subscribersByIds, writeCursor, type NewDelivery } from './repository.js';

/**
 * Opens and clicks as webhooks, read from the tracking hits (not the event log, which a busy post's hits
 * would swamp). Machines never trigger one: only hits judged to be people count. What a webhook may say
 * follows the newsletter's tracking mode:
 * - a hit that names its reader (per-subscriber tracking, the reader consented) becomes one `post.opened`
 *   the first time that reader opens the post, and one `post.clicked` the first time they click each link;
 * - hits that name nobody (aggregate tracking, or readers who did not consent) are summed per post and
 *   hour into one `post.engagement`, sent once the hour is over.
 * A crash between two passes only means the next pass reads the same hits again: each delivery's msg id
 * is derived from what it reports, and is owed once.
 */

export const HIT_CURSOR = 'webhooks.hit_cursor';
export const HOUR_CURSOR = 'webhooks.hour_cursor';
const HOUR = 3_600_000;
/** Hours summed per pass: a long pause catches up over a few passes rather than in one long query. */
const HOURS_PER_PASS = 48;
const BATCH = 500;

export interface InterestedEndpoint {
  id: number;
  createdAt: number;
  types: ReadonlySet<WebhookEventType>;
}

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());

async function describe(db: Db, postIds: number[], subscriberIds: number[]) {
  const posts = new Map((await postsByIds(db, [...new Set(postIds)])).map((p) => [p.id, p]));
  const newsletters = new Map((await newslettersByIds(db, [...new Set([...posts.values()].map((p) => p.newsletter_id))])).map((n) => [n.id, n]));
  const subscribers = new Map((await subscribersByIds(db, [...new Set(subscriberIds)])).map((s) => [s.id, s]));
  return {
    post(id: number) {
      const p = posts.get(id);
      const n = p ? newsletters.get(p.newsletter_id) : undefined;
      return {
        newsletter: n ? { id: n.id, slug: n.slug, name: n.name } : null,
        post: p ? { id: p.id, slug: p.slug, subject: p.subject, sent_at: iso(p.sent_at) } : null,
      };
    },
    subscriber(id: number) {
      const s = subscribers.get(id);
      return s ? { id: s.id, email: s.email, name: s.name } : null;
    },
  };
}

type Described = Awaited<ReturnType<typeof describe>>;

function personalPayload(hit: PersonalHit, d: Described): string {
  const type = hit.kind === 'open' ? 'post.opened' : 'post.clicked';
  const data = { hit_id: hit.id, ...d.post(hit.post_id), subscriber: d.subscriber(hit.subscriber_id), ...(hit.kind === 'click' ? { url: hit.url } : {}) };
  return JSON.stringify({ type, timestamp: iso(hit.created_at), data });
}

function summaryPayload(sum: { post_id: number; hour: number; opens: number; clicks: number }, d: Described): string {
  const data = { ...d.post(sum.post_id), period_start: iso(sum.hour), period_end: iso(sum.hour + HOUR), opens: sum.opens, clicks: sum.clicks };
  return JSON.stringify({ type: 'post.engagement', timestamp: iso(sum.hour + HOUR), data });
}

const wanting = (endpoints: InterestedEndpoint[], type: WebhookEventType, at: number) => endpoints.filter((e) => e.types.has(type) && at >= e.createdAt);

/** Owes each interested endpoint the readers' first opens and clicks since the last pass. */
async function fanOutPersonal(db: Db, now: number, settleMs: number, endpoints: InterestedEndpoint[]): Promise<number> {
  const newest = await lastId(db, 'tracking_hits');
  const interested = endpoints.filter((e) => e.types.has('post.opened') || e.types.has('post.clicked'));
  const stored = await readCursor(db, HIT_CURSOR);
  if (interested.length === 0) {
    if (stored !== newest) await writeCursor(db, newest, now, HIT_CURSOR);
    return 0;
  }
  const since = Math.min(...interested.map((e) => e.createdAt));
  const cursor = stored ?? ((await firstSince(db, 'tracking_hits', 0, since)) ?? newest + 1) - 1;
  const hold = await firstSince(db, 'tracking_hits', cursor, now - settleMs);
  let created = 0;
  for (let after = cursor; ; ) {
    const hits = await firstPersonalHits(db, after, BATCH);
    if (hits.length === 0) break;
    const d = await describe(db, hits.map((h) => h.post_id), hits.map((h) => h.subscriber_id));
    const rows: NewDelivery[] = [];
    for (const hit of hits) {
      const type = hit.kind === 'open' ? 'post.opened' : 'post.clicked';
      for (const e of wanting(interested, type, hit.created_at)) {
        rows.push({ endpointId: e.id, eventId: null, msgId: `msg_${e.id}_h${hit.id}`, eventType: type, payload: personalPayload(hit, d), at: now });
      }
    }
    created += await insertDeliveries(db, rows);
    after = hits[hits.length - 1]!.id;
    if (hits.length < BATCH) break;
  }
  const settled = hold === undefined ? newest : hold - 1;
  if (settled > cursor) await writeCursor(db, settled, now, HIT_CURSOR);
  return created;
}

/** Owes each interested endpoint one summary per post for every hour that is over since the last pass. */
async function fanOutSummaries(db: Db, now: number, settleMs: number, endpoints: InterestedEndpoint[]): Promise<number> {
  const closedUntil = Math.floor((now - settleMs) / HOUR) * HOUR;
  const interested = endpoints.filter((e) => e.types.has('post.engagement'));
  const stored = await readCursor(db, HOUR_CURSOR);
  if (interested.length === 0) {
    if (stored !== closedUntil) await writeCursor(db, closedUntil, now, HOUR_CURSOR);
    return 0;
  }
  const from = stored ?? Math.floor(Math.min(...interested.map((e) => e.createdAt)) / HOUR) * HOUR;
  const until = Math.min(closedUntil, from + HOURS_PER_PASS * HOUR);
  if (until <= from) return 0;
  const sums = merge(await anonymousSums(db, from, until));
  const d = await describe(db, sums.map((s) => s.post_id), []);
  const rows: NewDelivery[] = [];
  for (const sum of sums) {
    for (const e of wanting(interested, 'post.engagement', sum.hour + HOUR)) {
      rows.push({ endpointId: e.id, eventId: null, msgId: `msg_${e.id}_p${sum.post_id}_${sum.hour}`, eventType: 'post.engagement', payload: summaryPayload(sum, d), at: now });
    }
  }
  const created = await insertDeliveries(db, rows);
  await writeCursor(db, until, now, HOUR_CURSOR);
  return created;
}

/** One line per post and hour, with its opens and clicks side by side. */
function merge(sums: AnonymousSum[]): Array<{ post_id: number; hour: number; opens: number; clicks: number }> {
  const out = new Map<string, { post_id: number; hour: number; opens: number; clicks: number }>();
  for (const s of sums) {
    const key = `${s.post_id}:${s.hour}`;
    const line = out.get(key) ?? { post_id: s.post_id, hour: s.hour, opens: 0, clicks: 0 };
    if (s.kind === 'open') line.opens += s.hits;
    else line.clicks += s.hits;
    out.set(key, line);
  }
  return [...out.values()];
}

export async function fanOutEngagement(db: Db, now: number, settleMs: number, endpoints: InterestedEndpoint[]): Promise<number> {
  return (await fanOutPersonal(db, now, settleMs, endpoints)) + (await fanOutSummaries(db, now, settleMs, endpoints));
}
