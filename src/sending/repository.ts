import { sql } from 'kysely';
import type { ReadAside } from '../db/connect.js';
import type { DbOrTx, Dialect } from '../db/database.js';
import type { NewsletterRow } from '../db/tables/newsletters.js';
import type { DeliveryStatus, PostRow } from '../db/tables/posts.js';
import { audiencePageEnd, audienceRange, type Audience } from './audience-repository.js';

/**
 * The sending engine's reads, the audience snapshot and the writes that leave a status as it is. Every
 * status change is in post-transitions.ts or delivery-transitions.ts; the audience query is in
 * audience-repository.ts, leases in lease-repository.ts and the single-mail outbox in mail-outbox-repository.ts.
 */

export async function findPost(db: DbOrTx, id: number): Promise<PostRow | undefined> {
  return db.selectFrom('posts').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findPostNewsletter(db: DbOrTx, post: Pick<PostRow, 'newsletter_id'>): Promise<NewsletterRow> {
  return db.selectFrom('newsletters').selectAll().where('id', '=', post.newsletter_id).executeTakeFirstOrThrow();
}

// ---------------------------------------------------------------------------------------------
// Snapshot

/**
 * Inserts the audience in keyset pages, resuming after the highest subscriber already there; stops
 * after `maxPages` pages (`done` false) so a caller can hand the rest to the background.
 *
 * A page is two statements and no rows in JavaScript: where the page ends, then INSERT … SELECT of that
 * range, with each Message-ID's 120 random bits made by the database (gen_random_uuid on Postgres 13+),
 * so a big audience costs neither round trips nor garbage here.
 */
export async function snapshotAudience(
  db: DbOrTx,
  p: {
    postId: number;
    newsletterId: number;
    audience: Audience;
    dialect: Dialect;
    domain: string;
    now: number;
    pageSize: number;
    maxPages?: number;
    /**
     * Awaited between pages with the last page's duration (the engine lets other work run there: each
     * page is synchronous on SQLite).
     */
    between?: (pageMs: number) => Promise<void>;
  },
): Promise<{ inserted: number; done: boolean }> {
  const last = await db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.max('subscriber_id').as('max'))
    .where('post_id', '=', p.postId)
    .executeTakeFirst();
  let afterId = Number(last?.max ?? 0);
  let inserted = 0;
  const random = p.dialect === 'postgres' ? sql`replace(gen_random_uuid()::text, '-', '')` : sql`lower(hex(randomblob(15)))`;
  const messageId = sql<string>`'<' || ${random} || ${`@${p.domain}>`}`;
  let pageMs = 0;
  for (let pages = 0; ; pages++) {
    if (p.maxPages !== undefined && pages >= p.maxPages) return { inserted, done: false };
    if (pages > 0) await p.between?.(pageMs);
    const started = performance.now();
    const page = await audiencePageEnd(db, p.newsletterId, p.audience, afterId, p.pageSize);
    if (page.lastId === undefined) break;
    const rows = audienceRange(db, p.newsletterId, p.audience, afterId, page.lastId).select([
        sql<number>`cast(${p.postId} as bigint)`.as('post_id'),
        's.id as subscriber_id',
        's.email as email',
        messageId.as('message_id'),
        sql<string>`'queued'`.as('status'),
        sql<number>`0`.as('next_attempt_at'),
        sql<number>`cast(${p.now} as bigint)`.as('updated_at'),
      ]);
    // Unique per post × subscriber and per post × address: a re-run or a duplicate address is a no-op.
    const result = await db
      .insertInto('deliveries')
      .columns(['post_id', 'subscriber_id', 'email', 'message_id', 'status', 'next_attempt_at', 'updated_at'])
      .expression(rows)
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    inserted += Number(result.numInsertedOrUpdatedRows ?? 0);
    pageMs = performance.now() - started;
    afterId = page.lastId;
    if (page.rows < p.pageSize) break;
  }
  return { inserted, done: true };
}

/** Marks the snapshot complete: from now on the post is finished when no delivery is open. */
export async function freezeAudience(db: DbOrTx, postId: number, now: number): Promise<void> {
  await db.updateTable('posts').set({ audience_frozen_at: now }).where('id', '=', postId).where('audience_frozen_at', 'is', null).execute();
}

/** Sends in progress or paused whose snapshot is not complete yet. */
export async function unfrozenSends(db: DbOrTx): Promise<number[]> {
  const rows = await db.selectFrom('posts').select('id').where('status', 'in', ['sending', 'paused']).where('audience_frozen_at', 'is', null).execute();
  return rows.map((r) => r.id);
}

/** Posts that may have rows in flight: every send in progress, and those cancelled since `cancelledSince`. */
export async function postsInFlight(db: DbOrTx, cancelledSince: number): Promise<number[]> {
  const rows = await db
    .selectFrom('posts')
    .select('id')
    .where((eb) =>
      eb.or([
        eb('status', 'in', ['sending', 'paused']),
        eb.and([eb('status', '=', 'cancelled'), eb('updated_at', '>=', cancelledSince)]),
      ]),
    )
    .execute();
  return rows.map((r) => r.id);
}

/** Scheduled posts whose time has come and that are not held for the writer. */
export async function dueScheduledPosts(db: DbOrTx, now: number): Promise<Array<{ id: number; scheduled_at: number | null }>> {
  return db
    .selectFrom('posts')
    .select(['id', 'scheduled_at'])
    .where('status', '=', 'scheduled')
    .where('scheduled_at', '<=', now)
    .where('held_reason', 'is', null)
    .execute();
}

/** Relay-level pauses whose backoff is over. */
export async function dueRelayPauses(db: DbOrTx, now: number): Promise<Array<{ id: number; relay_failures: number }>> {
  return db
    .selectFrom('posts')
    .select(['id', 'relay_failures'])
    .where('status', '=', 'paused')
    .where('resume_at', 'is not', null)
    .where('resume_at', '<=', now)
    .execute();
}

/** The posts a claim takes rows from, oldest send first. */
export async function sendingPosts(db: DbOrTx): Promise<Array<{ id: number; newsletter_id: number; relay_failures: number }>> {
  return db.selectFrom('posts').select(['id', 'newsletter_id', 'relay_failures']).where('status', '=', 'sending').orderBy('started_at').orderBy('id').execute();
}

export async function relayFailuresOf(db: DbOrTx, postId: number): Promise<number> {
  const post = await db.selectFrom('posts').select('relay_failures').where('id', '=', postId).executeTakeFirst();
  return post?.relay_failures ?? 0;
}

/** A successful send ends the posts' run of relay trouble. */
export async function resetRelayFailures(db: DbOrTx, postIds: number[]): Promise<void> {
  if (postIds.length > 0) await db.updateTable('posts').set({ relay_failures: 0 }).where('id', 'in', postIds).execute();
}

// ---------------------------------------------------------------------------------------------
// Progress

/**
 * Linear in the audience (~100 ms for 1,000,000 rows on SQLite, where a statement holds the thread that
 * runs it): it runs aside when it can. Covered by the claim index (post_id, status, …): the table itself
 * is not read.
 */
export async function countByStatus(db: DbOrTx, postId: number, aside?: ReadAside): Promise<Partial<Record<DeliveryStatus, number>>> {
  const query = db
    .selectFrom('deliveries')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('post_id', '=', postId)
    .groupBy('status');
  const rows = (aside ? await aside(query.compile()) : null) ?? (await query.execute());
  return Object.fromEntries((rows as Array<{ status: DeliveryStatus; n: number }>).map((r) => [r.status, Number(r.n)]));
}

export interface ProblemRecipient {
  id: number;
  email: string;
  status: 'unknown' | 'failed';
  error: string | null;
  attempts: number;
  messageId: string;
  updatedAt: number;
}

export async function listProblemRecipients(db: DbOrTx, postId: number, limit: number): Promise<ProblemRecipient[]> {
  const rows = await db
    .selectFrom('deliveries')
    .select(['id', 'email', 'status', 'error', 'attempts', 'message_id', 'updated_at'])
    .where('post_id', '=', postId)
    .where('status', 'in', ['unknown', 'failed'])
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    email: r.email,
    status: r.status as 'unknown' | 'failed',
    error: r.error,
    attempts: r.attempts,
    messageId: r.message_id,
    updatedAt: r.updated_at,
  }));
}
