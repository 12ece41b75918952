import { sql } from 'kysely';
import { toBool } from '../db/codec.js';
import type { DbOrTx, Dialect } from '../db/database.js';
import { relayIdOf } from '../lib/relay-id.js';
import type { DeliveryFrom } from './states.js';

/**
 * Every write of a delivery's status (the moves are listed in states.ts). Each UPDATE names the statuses
 * it may leave, so its row count is the lock. Ids are batched into one statement per kind of change: the
 * send loop commits once per tick, not once per message. The builder's statuses are typed against the
 * table; the send loop's raw statements keep theirs as SQL literals (a generic Postgres plan still sees
 * which status it filters on), and test/sending/state-machine.test.ts checks those against the table.
 */

const CLAIMABLE: ReadonlyArray<DeliveryFrom<'claimed'>> = ['retry', 'queued'];
const RELEASABLE: DeliveryFrom<'queued' | 'cancelled'> = 'claimed';
/** An attempt's answer other than success; sentUpdate records successes. */
const ANSWERED: ReadonlyArray<DeliveryFrom<'retry' | 'failed' | 'unknown' | 'queued'>> = ['attempting'];
/** A message that could not even be built is recorded without an attempt (see Finished.occupied). */
const UNBUILT: ReadonlyArray<DeliveryFrom<'failed' | 'queued'>> = ['claimed'];
const ORPHANED_CLAIM: DeliveryFrom<'queued'> = 'claimed';
const ORPHANED_ATTEMPT: DeliveryFrom<'unknown'> = 'attempting';
const CANCELLABLE: ReadonlyArray<DeliveryFrom<'cancelled'>> = ['queued', 'claimed', 'retry'];
export type Requeueable = Extract<DeliveryFrom<'queued'>, 'unknown' | 'failed'>;

/**
 * A list of ids as ONE bound parameter (a JSON array on SQLite, an array on Postgres): the statement
 * text is the same for any number of ids, so its preparation is reused (see withStatementCache).
 */
function idSet(dialect: Dialect, ids: number[]) {
  return dialect === 'postgres' ? sql`(select unnest(${ids}::bigint[]))` : sql`(select value from json_each(${JSON.stringify(ids)}))`;
}

// ---------------------------------------------------------------------------------------------
// Claims: queued | retry → claimed → skipped

interface ClaimCandidate {
  id: number;
  email: string;
  message_id: string;
  attempts: number;
  sid: number | null;
  name: string | null;
  attributes: string | null;
  token: string | null;
  sub_status: string | null;
  tracking_consent_at: number | null;
  paid_access: number | null;
  suppressed: unknown;
}

export interface ClaimedRow {
  id: number;
  postId: number;
  email: string;
  messageId: string;
  attempts: number;
  subscriberId: number;
  name: string;
  attributes: string;
  token: string;
  /** The delivery id when the recipient allows per-person tracking (see Recipient.trackAs). */
  trackAs: number | null;
  /**
   * The subscription's paid access as read by this claim (see Recipient.paidAccess): a post with a paywall
   * goes to them whole. Read here, the latest point before the message goes out that costs no query (the
   * claim joins the subscription anyway), rather than when the audience was snapshotted: a reader who
   * pauses or cancels while a long send runs gets the teaser from then on. A retry reads it afresh.
   */
  paidAccess: boolean;
}

/** Why a recipient must not get the message any more, or undefined when they still should. */
function ineligible(r: Pick<ClaimCandidate, 'sid' | 'sub_status' | 'suppressed'>): string | undefined {
  if (r.sid === null) return 'The subscriber was deleted before this message went out.';
  if (r.sub_status !== 'active') return 'The subscriber unsubscribed before this message went out.';
  if (toBool(r.suppressed)) return 'The address is suppressed (bounce, complaint or block).';
  return undefined;
}

async function markSkipped(trx: DbOrTx, dialect: Dialect, reasons: Map<string, number[]>, now: number): Promise<void> {
  for (const [reason, ids] of reasons) {
    await sql`update deliveries set status = 'skipped', error = ${reason}, claimed_by = null, updated_at = ${now}
              where id in ${idSet(dialect, ids)} and status = 'claimed'`.execute(trx);
  }
}

/**
 * Claims up to `limit` due rows of one post for `owner`. Each recipient is checked here, and again
 * when the row is marked attempting: someone who unsubscribed, was suppressed or deleted since the
 * snapshot is marked `skipped` instead. On Postgres the rows are locked with SKIP LOCKED, so several
 * processes share a send; on SQLite the one writer holds them. Either way the rows read here are still
 * `queued` or `retry` when the claim's UPDATE runs in the same transaction, which therefore names ids only.
 */
export async function claimRows(
  trx: DbOrTx,
  dialect: Dialect,
  p: { postId: number; newsletterId: number; owner: string; now: number; limit: number },
): Promise<{ claimed: ClaimedRow[]; skipped: number }> {
  const claimed: ClaimedRow[] = [];
  let skippedCount = 0;
  // Two index range scans (retries that are due first, then the queue), each already in order.
  for (const status of CLAIMABLE) {
    const want = p.limit - claimed.length - skippedCount;
    if (want <= 0) break;
    // Hot path: a plain template, cheaper than the builder.
    const { rows } = await sql<ClaimCandidate>`/* prepared:gz_claim_${sql.raw(status)} */
      select d.id, d.email, d.message_id, d.attempts, s.id as sid, s.name, s.attributes, s.token,
             sn.status as sub_status, sn.tracking_consent_at, sn.paid_access,
             exists (select 1 from suppressions x where x.email_hash = s.email_hash) as suppressed
      from deliveries d
      left join subscribers s on s.id = d.subscriber_id
      left join subscriptions sn on sn.subscriber_id = d.subscriber_id and sn.newsletter_id = ${p.newsletterId}
      where d.post_id = ${p.postId} and d.status = ${status} and d.next_attempt_at <= ${p.now}
      order by d.next_attempt_at, d.id
      limit ${want}
      ${dialect === 'postgres' ? sql`for update of d skip locked` : sql``}`.execute(trx);
    if (rows.length === 0) continue;
    const skipped = new Map<string, number[]>();
    const ok: number[] = [];
    for (const r of rows) {
      const reason = ineligible(r);
      if (reason) {
        skipped.set(reason, [...(skipped.get(reason) ?? []), r.id]);
        skippedCount += 1;
        continue;
      }
      ok.push(r.id);
      claimed.push({
        id: r.id,
        postId: p.postId,
        email: r.email,
        messageId: r.message_id,
        attempts: r.attempts,
        subscriberId: r.sid!,
        name: r.name ?? '',
        attributes: r.attributes ?? '{}',
        token: r.token ?? '',
        trackAs: r.tracking_consent_at === null ? null : r.id,
        paidAccess: Number(r.paid_access) === 1,
      });
    }
    // Claimed first, so that the skipped rows (still queued or retry) are marked by the shared update.
    await sql`/* prepared:gz_claimed */ update deliveries set status = 'claimed', claimed_by = ${p.owner}, claimed_at = ${p.now}, updated_at = ${p.now}
              where id in ${idSet(dialect, rows.map((r) => r.id))}`.execute(trx);
    await markSkipped(trx, dialect, skipped, p.now);
  }
  return { claimed, skipped: skippedCount };
}

// ---------------------------------------------------------------------------------------------
// The write-ahead marker: claimed → attempting (or skipped, or back to queued)

/**
 * The write-ahead marker: durable before any SMTP byte. Each recipient is checked once more here, in
 * the commit right before the message goes out, so an unsubscribe or a suppression that arrived after
 * the claim still stops it (those rows become `skipped`), and so does the post's own state: rows of a
 * post that is no longer sending go back to the queue (on Postgres a claim can commit just after a
 * pause released the post's claims). Returns the ids that were marked.
 */
export async function markAttempting(trx: DbOrTx, dialect: Dialect, ids: number[], owner: string, now: number): Promise<Set<number>> {
  if (ids.length === 0) return new Set();
  const { rows } = await sql<{ id: number }>`/* prepared:gz_mark */ ${markerUpdate(dialect, ids, owner, now)}`.execute(trx);
  const marked = new Set(rows.map((r) => r.id));
  if (marked.size < ids.length) await skipIneligible(trx, dialect, ids.filter((id) => !marked.has(id)), owner, now);
  return marked;
}

function markerUpdate(dialect: Dialect, ids: number[], owner: string, now: number) {
  return sql`update deliveries set status = 'attempting', attempted_at = ${now}, updated_at = ${now}
    where id in ${idSet(dialect, ids)} and status = 'claimed' and claimed_by = ${owner}
      and exists (select 1 from subscriptions sn join posts p on p.newsletter_id = sn.newsletter_id
                  where p.id = deliveries.post_id and p.status = 'sending'
                    and sn.subscriber_id = deliveries.subscriber_id and sn.status = 'active')
      and not exists (select 1 from subscribers s join suppressions x on x.email_hash = s.email_hash where s.id = deliveries.subscriber_id)
    returning id`;
}

/**
 * Postgres, the usual tick (every outcome a success, nothing to claim) as ONE statement and one round
 * trip: the sent rows recorded and the next rows marked attempting together. A single statement is its
 * own transaction, so both changes are durable together before any of the new messages goes out, as in
 * the general tick. Rows failing the marker's check are then skipped or released as markAttempting does.
 */
export async function recordSentAndMark(
  db: DbOrTx,
  sent: Array<{ id: number; response: string }>,
  ids: number[],
  owner: string,
  now: number,
): Promise<Set<number>> {
  const marker = markerUpdate('postgres', ids, owner, now);
  const { rows } = await (sent.length === 0
    ? sql<{ id: number }>`/* prepared:gz_mark */ ${marker}`
    : sql<{ id: number }>`/* prepared:gz_tick */ with sent as (${sentUpdate('postgres', sent, now)}) ${marker}`
  ).execute(db);
  const marked = new Set(rows.map((r) => r.id));
  if (marked.size < ids.length) {
    const rest = ids.filter((id) => !marked.has(id));
    await db.transaction().execute((trx) => skipIneligible(trx, 'postgres', rest, owner, now));
  }
  return marked;
}

/**
 * Rows of `owner` that failed the last check: `skipped` with the reason. A row found eligible again here
 * (its subscriber re-subscribed in between, on Postgres) goes back to the queue, never skipped without a
 * reason. Rows no longer ours are left alone.
 */
async function skipIneligible(trx: DbOrTx, dialect: Dialect, ids: number[], owner: string, now: number): Promise<void> {
  const { rows } = await sql<Pick<ClaimCandidate, 'id' | 'sid' | 'sub_status' | 'suppressed'>>`
    select d.id, s.id as sid, sn.status as sub_status,
           exists (select 1 from suppressions x where x.email_hash = s.email_hash) as suppressed
    from deliveries d
    join posts p on p.id = d.post_id
    left join subscribers s on s.id = d.subscriber_id
    left join subscriptions sn on sn.subscriber_id = d.subscriber_id and sn.newsletter_id = p.newsletter_id
    where d.id in ${idSet(dialect, ids)} and d.status = 'claimed' and d.claimed_by = ${owner}`.execute(trx);
  const reasons = new Map<string, number[]>();
  const eligible: number[] = [];
  for (const r of rows) {
    const reason = ineligible(r);
    if (reason) reasons.set(reason, [...(reasons.get(reason) ?? []), r.id]);
    else eligible.push(r.id);
  }
  await markSkipped(trx, dialect, reasons, now);
  await releaseClaims(trx, dialect, eligible, now);
}

/** Claimed but not attempted rows go back to the queue (pause, cancel, shutdown). */
export async function releaseClaims(trx: DbOrTx, dialect: Dialect, ids: number[], now: number): Promise<void> {
  if (ids.length === 0) return;
  await sql`update deliveries set status = 'queued', claimed_by = null, claimed_at = null, updated_at = ${now}
            where id in ${idSet(dialect, ids)} and status = 'claimed'`.execute(trx);
}

/** Every claimed row of a post, whoever claimed it, back to the queue (its send was paused or cancelled). */
export async function releasePostClaims(trx: DbOrTx, postId: number, now: number, status: 'queued' | 'cancelled' = 'queued'): Promise<void> {
  await trx
    .updateTable('deliveries')
    .set({ status, claimed_by: null, claimed_at: null, updated_at: now })
    .where('post_id', '=', postId)
    .where('status', '=', RELEASABLE)
    .execute();
}

// ---------------------------------------------------------------------------------------------
// Outcomes: attempting → sent | retry | failed | unknown | queued

/** Sent rows, one statement for the whole batch; each keeps the relay's own answer. */
export async function recordSent(trx: DbOrTx, dialect: Dialect, rows: Array<{ id: number; response: string }>, now: number): Promise<void> {
  if (rows.length === 0) return;
  await sql`/* prepared:gz_sent */ ${sentUpdate(dialect, rows, now)}`.execute(trx);
}

function sentUpdate(dialect: Dialect, rows: Array<{ id: number; response: string }>, now: number) {
  // Each row keeps its own answer (relays put their queue id in it), still in one statement whose
  // text does not depend on the number of rows.
  // The relay's id for the message is read from its answer here, so a later bounce naming only that id
  // finds this row (src/lib/relay-id.ts).
  const relayIds = rows.map((r) => relayIdOf(r.response));
  const answers =
    dialect === 'postgres'
      ? sql`unnest(${rows.map((r) => r.id)}::bigint[], ${rows.map((r) => r.response)}::text[], ${relayIds}::text[]) as v(id, r, rid)`
      : sql`(select json_extract(value, '$[0]') as id, json_extract(value, '$[1]') as r, json_extract(value, '$[2]') as rid from json_each(${JSON.stringify(rows.map((r, i) => [r.id, r.response, relayIds[i]]))})) as v`;
  // A row marked unknown by an over-eager recovery was sent after all: the answer is the truth.
  return sql`update deliveries
            set status = 'sent', sent_at = ${now}, attempts = deliveries.attempts + 1, error = null, updated_at = ${now}, response = v.r, relay_id = v.rid
            from ${answers}
            where deliveries.id = v.id and deliveries.status in ('attempting', 'unknown')`;
}

export async function recordOutcome(
  trx: DbOrTx,
  id: number,
  change: { status: 'retry' | 'failed' | 'unknown' | 'queued'; error: string; nextAttemptAt?: number; countAttempt: boolean },
  now: number,
): Promise<void> {
  await trx
    .updateTable('deliveries')
    .set((eb) => ({
      status: change.status,
      error: change.error.slice(0, 500),
      updated_at: now,
      ...(change.nextAttemptAt !== undefined ? { next_attempt_at: change.nextAttemptAt } : {}),
      ...(change.countAttempt ? { attempts: eb('attempts', '+', 1) } : {}),
      ...(change.status === 'queued' ? { claimed_by: null, claimed_at: null } : {}),
    }))
    .where('id', '=', id)
    .where('status', 'in', [...ANSWERED, ...UNBUILT])
    .execute();
}

// ---------------------------------------------------------------------------------------------
// The writer's commands and recovery

/** Messages being handed to the relay right now finish and are recorded; nothing else of the post goes out. */
export async function cancelPostDeliveries(trx: DbOrTx, postId: number, now: number): Promise<void> {
  await trx
    .updateTable('deliveries')
    .set({ status: 'cancelled', claimed_by: null, claimed_at: null, updated_at: now })
    .where('post_id', '=', postId)
    .where('status', 'in', CANCELLABLE)
    .execute();
}

/** Same row, same Message-ID: a receiver that got the first copy can recognise the second. Returns how many. */
export async function requeueDeliveries(trx: DbOrTx, postId: number, statuses: Requeueable[], now: number): Promise<number> {
  const r = await trx
    .updateTable('deliveries')
    .set({ status: 'queued', attempts: 0, next_attempt_at: 0, claimed_by: null, claimed_at: null, updated_at: now })
    .where('post_id', '=', postId)
    .where('status', 'in', statuses)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/**
 * After a crash: rows claimed by a sender that is gone go back to the queue (never attempted);
 * rows it was attempting become `unknown` (the relay may have them) — never re-sent silently.
 * `liveOwners` are senders known to be running; their rows are left alone.
 */
export async function recoverOrphans(db: DbOrTx, postIds: number[], liveOwners: string[], now: number): Promise<{ requeued: number; unknown: number }> {
  if (postIds.length === 0) return { requeued: 0, unknown: 0 };
  const requeued = await db
    .updateTable('deliveries')
    .set({ status: 'queued', claimed_by: null, claimed_at: null, updated_at: now })
    .where('post_id', 'in', postIds)
    .where('status', '=', ORPHANED_CLAIM)
    .$if(liveOwners.length > 0, (q) => q.where((eb) => eb.or([eb('claimed_by', 'is', null), eb('claimed_by', 'not in', liveOwners)])))
    .executeTakeFirst();
  const unknown = await db
    .updateTable('deliveries')
    .set({
      status: 'unknown',
      error: 'Gazette stopped while handing this message to the relay: it may or may not have been delivered.',
      updated_at: now,
    })
    .where('post_id', 'in', postIds)
    .where('status', '=', ORPHANED_ATTEMPT)
    .$if(liveOwners.length > 0, (q) => q.where((eb) => eb.or([eb('claimed_by', 'is', null), eb('claimed_by', 'not in', liveOwners)])))
    .executeTakeFirst();
  return { requeued: Number(requeued.numUpdatedRows), unknown: Number(unknown.numUpdatedRows) };
}
