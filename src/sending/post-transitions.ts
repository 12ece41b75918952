import type { DbOrTx } from '../db/database.js';
import { recordEvent } from '../domain/events.js';
import { OPEN_STATES, type PostFrom } from './states.js';

/**
 * Every write of a post's status (the moves are listed in states.ts), and the writes that change what a
 * status means for the post (a scheduled post's hold, a paused post's relay backoff). Each UPDATE names
 * the statuses it may leave, typed against the table, and returns whether it changed the row: the row
 * count is the lock, so a writer racing the scheduler or another process learns that it lost.
 */

const SCHEDULABLE: ReadonlyArray<PostFrom<'scheduled'>> = ['draft', 'scheduled'];
const UNSCHEDULABLE: PostFrom<'draft'> = 'scheduled';
const STARTABLE: ReadonlyArray<PostFrom<'sending'>> = ['draft', 'scheduled'];
const PAUSABLE: ReadonlyArray<PostFrom<'paused'>> = ['sending', 'paused'];
/** What relay or post trouble pauses: only a send in progress (a paused post stays as the writer left it). */
const TROUBLED: PostFrom<'paused'> = 'sending';
const RESUMABLE: PostFrom<'sending'> = 'paused';
const FINISHABLE: PostFrom<'sent'> = 'sending';
const REOPENABLE: PostFrom<'sending'> = 'sent';
const CANCELLABLE: ReadonlyArray<PostFrom<'cancelled'>> = ['sending', 'paused', 'scheduled'];
/** A hold or a relay backoff changes a post without moving it: its status stays what it was. */
const HELD: PostFrom<'scheduled'> = 'scheduled';
const BACKING_OFF: PostFrom<'paused'> = 'paused';

const changed = (r: { numUpdatedRows: bigint }) => Number(r.numUpdatedRows) > 0;

// ---------------------------------------------------------------------------------------------
// The writer's schedule: draft ⇄ scheduled

/** Runs `f` in the caller's transaction, or in a new one: a status and its event commit together. */
const atomically = <T>(db: DbOrTx, f: (trx: DbOrTx) => Promise<T>): Promise<T> => (db.isTransaction ? f(db) : db.transaction().execute(f));

export async function schedulePost(db: DbOrTx, id: number, at: number, now: number): Promise<boolean> {
  return atomically(db, async (trx) => {
    const row = await trx
      .updateTable('posts')
      .set({ status: 'scheduled', scheduled_at: at, held_reason: null, updated_at: now })
      .where('id', '=', id)
      .where('status', 'in', SCHEDULABLE)
      .returning('newsletter_id')
      .executeTakeFirst();
    if (row) await recordEvent(trx, { type: 'post_scheduled', at: now, postId: id, newsletterId: row.newsletter_id, data: { scheduled_at: new Date(at).toISOString() } });
    return row !== undefined;
  });
}

export async function unschedulePost(db: DbOrTx, id: number, now: number): Promise<boolean> {
  const r = await db
    .updateTable('posts')
    .set({ status: 'draft', scheduled_at: null, held_reason: null, updated_at: now })
    .where('id', '=', id)
    .where('status', 'in', [UNSCHEDULABLE])
    .executeTakeFirst();
  return changed(r);
}

/** A scheduled post missed by too much waits for the writer, with the reason shown. */
export async function holdScheduledPost(db: DbOrTx, id: number, reason: string, now: number): Promise<void> {
  await db.updateTable('posts').set({ held_reason: reason, updated_at: now }).where('id', '=', id).where('status', '=', HELD).execute();
}

/** The writer's "send anyway" for a held post; the start that follows checks the status. */
export async function clearHold(db: DbOrTx, id: number, now: number): Promise<void> {
  await db.updateTable('posts').set({ held_reason: null, updated_at: now }).where('id', '=', id).execute();
}

// ---------------------------------------------------------------------------------------------
// The send: draft | scheduled → sending ⇄ paused → sent, and cancelled

/** A fresh start: any earlier pause, hold or snapshot of the post is forgotten. */
export async function startSending(db: DbOrTx, id: number, now: number): Promise<boolean> {
  const r = await db
    .updateTable('posts')
    .set({
      status: 'sending',
      started_at: now,
      held_reason: null,
      paused_reason: null,
      resume_at: null,
      relay_failures: 0,
      audience_frozen_at: null,
      updated_at: now,
    })
    .where('id', '=', id)
    .where('status', 'in', STARTABLE)
    .executeTakeFirst();
  return changed(r);
}

/** The writer's pause (or a pause with a time to resume at); pausing a paused post updates its reason. */
export async function pausePost(db: DbOrTx, id: number, reason: string, resumeAt: number | null, now: number): Promise<boolean> {
  const r = await db
    .updateTable('posts')
    .set({ status: 'paused', paused_reason: reason.slice(0, 1000), resume_at: resumeAt, updated_at: now })
    .where('id', '=', id)
    .where('status', 'in', PAUSABLE)
    .executeTakeFirst();
  return changed(r);
}

/** The relay refuses mail: the send pauses and resumes by itself after `resumeAt` (see resumeAfterProbe). */
export async function pauseForRelay(
  db: DbOrTx,
  id: number,
  p: { reason: string; resumeAt: number; relayFailures: number },
  now: number,
): Promise<boolean> {
  const r = await db
    .updateTable('posts')
    .set({ status: 'paused', paused_reason: p.reason.slice(0, 1000), resume_at: p.resumeAt, relay_failures: p.relayFailures, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', TROUBLED)
    .executeTakeFirst();
  return changed(r);
}

/** The post itself cannot go out (the relay refuses it for everyone): paused until the writer resumes. */
export async function pauseForPost(db: DbOrTx, id: number, reason: string, now: number): Promise<void> {
  await db
    .updateTable('posts')
    .set({ status: 'paused', paused_reason: reason.slice(0, 1000), resume_at: null, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', TROUBLED)
    .execute();
}

/** The writer's resume. */
export async function resumePost(db: DbOrTx, id: number, now: number): Promise<boolean> {
  const r = await db
    .updateTable('posts')
    .set({ status: 'sending', paused_reason: null, resume_at: null, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', RESUMABLE)
    .executeTakeFirst();
  return changed(r);
}

/** A relay pause whose probe succeeded; a writer's pause (no resume_at) is never resumed here. */
export async function resumeAfterProbe(db: DbOrTx, id: number, now: number): Promise<void> {
  await db
    .updateTable('posts')
    .set({ status: 'sending', paused_reason: null, resume_at: null, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', RESUMABLE)
    .where('resume_at', 'is not', null)
    .execute();
}

/** A relay pause whose probe failed again waits longer. */
export async function extendRelayPause(
  db: DbOrTx,
  id: number,
  p: { reason: string; resumeAt: number; relayFailures: number },
  now: number,
): Promise<void> {
  await db
    .updateTable('posts')
    .set({ resume_at: p.resumeAt, relay_failures: p.relayFailures, paused_reason: p.reason.slice(0, 1000), updated_at: now })
    .where('id', '=', id)
    .where('status', '=', BACKING_OFF)
    .where('resume_at', 'is not', null)
    .execute();
}

/**
 * sending → sent once the audience is frozen and no delivery has work left; one statement, so no race
 * with a claim. Returns the posts it finished.
 */
export async function finishSentPosts(db: DbOrTx, now: number): Promise<number[]> {
  return atomically(db, async (trx) => {
    const done = await markSentWhereDone(trx, now);
    for (const p of done) await recordEvent(trx, { type: 'post_sent', at: now, postId: p.id, newsletterId: p.newsletter_id });
    return done.map((p) => p.id);
  });
}

async function markSentWhereDone(db: DbOrTx, now: number): Promise<Array<{ id: number; newsletter_id: number }>> {
  return db
    .updateTable('posts')
    .set((eb) => ({ status: 'sent', sent_at: eb.fn.coalesce('sent_at', eb.val(now)), updated_at: now }))
    .where('status', '=', FINISHABLE)
    .where('audience_frozen_at', 'is not', null)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('deliveries as d')
            .select('d.id')
            .whereRef('d.post_id', '=', 'posts.id')
            .where('d.status', 'in', OPEN_STATES),
        ),
      ),
    )
    .returning(['id', 'newsletter_id'])
    .execute();
}

/** A sent post whose failed or unknown recipients were re-queued sends again. */
export async function reopenSentPost(db: DbOrTx, id: number, now: number): Promise<void> {
  await db.updateTable('posts').set({ status: 'sending', updated_at: now }).where('id', '=', id).where('status', '=', REOPENABLE).execute();
}

export async function cancelPost(db: DbOrTx, id: number, now: number): Promise<boolean> {
  const r = await db
    .updateTable('posts')
    .set({ status: 'cancelled', paused_reason: null, resume_at: null, held_reason: null, updated_at: now })
    .where('id', '=', id)
    .where('status', 'in', CANCELLABLE)
    .executeTakeFirst();
  return changed(r);
}
