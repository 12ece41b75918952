import { sql } from 'kysely';
import type { DbOrTx } from '../db/database.js';
import type { MailOutboxRow, MailStatus } from '../db/tables/mail-outbox.js';

/** Every status change of a single message is one of these conditional updates; its row count is the lock. */

export const DUE_STATUSES: MailStatus[] = ['queued', 'retry'];

export async function insertMail(db: DbOrTx, row: Omit<MailOutboxRow, 'id' | 'attempts' | 'claimed_at' | 'last_error' | 'response' | 'sent_at'>): Promise<number> {
  const inserted = await db.insertInto('mail_outbox').values(row).returning('id').executeTakeFirstOrThrow();
  return Number(inserted.id);
}

/** Ids of messages due now, oldest first. */
export async function listDue(db: DbOrTx, now: number, limit: number): Promise<number[]> {
  const rows = await db
    .selectFrom('mail_outbox')
    .select('id')
    .where('status', 'in', DUE_STATUSES)
    .where('next_attempt_at', '<=', now)
    .orderBy('next_attempt_at')
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((r) => Number(r.id));
}

/** queued | retry → sending. Returns the row when this caller won it, undefined when another did. */
export async function claimMail(db: DbOrTx, id: number, now: number): Promise<MailOutboxRow | undefined> {
  const result = await db
    .updateTable('mail_outbox')
    .set({ status: 'sending', claimed_at: now, attempts: sql<number>`attempts + 1` })
    .where('id', '=', id)
    .where('status', 'in', DUE_STATUSES)
    .where('next_attempt_at', '<=', now)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) return undefined;
  return db.selectFrom('mail_outbox').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function markMailSent(db: DbOrTx, id: number, response: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('mail_outbox')
    .set({ status: 'sent', response, sent_at: now, last_error: null })
    .where('id', '=', id)
    .where('status', '=', 'sending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function markMailRetry(db: DbOrTx, id: number, error: string, nextAttemptAt: number): Promise<boolean> {
  const result = await db
    .updateTable('mail_outbox')
    .set({ status: 'retry', last_error: error, next_attempt_at: nextAttemptAt, claimed_at: null })
    .where('id', '=', id)
    .where('status', '=', 'sending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function markMailFailed(db: DbOrTx, id: number, error: string): Promise<boolean> {
  const result = await db
    .updateTable('mail_outbox')
    .set({ status: 'failed', last_error: error, claimed_at: null })
    .where('id', '=', id)
    .where('status', '=', 'sending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * sending → unknown for claims older than `staleBefore`: the process that claimed them died mid-send, and
 * the relay may have the message, so it is never sent again without the writer's say.
 */
export async function markStaleMailUnknown(db: DbOrTx, staleBefore: number): Promise<number> {
  const result = await db
    .updateTable('mail_outbox')
    .set({ status: 'unknown', last_error: 'Gazette stopped while sending this message; the relay may or may not have it.' })
    .where('status', '=', 'sending')
    .where('claimed_at', '<', staleBefore)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The writer's "send again" for a failed or unknown message: failed | unknown → queued, due now. */
export async function requeueMail(db: DbOrTx, id: number, now: number): Promise<boolean> {
  const result = await db
    .updateTable('mail_outbox')
    .set({ status: 'queued', next_attempt_at: now, claimed_at: null })
    .where('id', '=', id)
    .where('status', 'in', ['failed', 'unknown'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function countSending(db: DbOrTx): Promise<number> {
  const row = await db.selectFrom('mail_outbox').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'sending').executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function listMail(db: DbOrTx, limit: number, beforeId?: number, statuses?: MailStatus[]): Promise<MailOutboxRow[]> {
  let q = db.selectFrom('mail_outbox').selectAll().orderBy('id', 'desc').limit(limit);
  if (beforeId !== undefined) q = q.where('id', '<', beforeId);
  if (statuses && statuses.length > 0) q = q.where('status', 'in', statuses);
  return q.execute();
}

export async function countMailByStatus(db: DbOrTx): Promise<Record<string, number>> {
  const rows = await db.selectFrom('mail_outbox').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}
