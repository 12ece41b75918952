import type { DbOrTx } from '../../db/database.js';
import type { SignupOutcome, SignupReason } from '../../db/tables/signup-protection.js';

export interface AttemptInput {
  newsletterId: number | null;
  email: string;
  name: string;
  source: string;
  reason: SignupReason;
  outcome: SignupOutcome;
  at: number;
}

export async function insertAttempt(db: DbOrTx, a: AttemptInput): Promise<void> {
  await db
    .insertInto('signup_attempts')
    .values({ newsletter_id: a.newsletterId, email: a.email, name: a.name, source: a.source, reason: a.reason, outcome: a.outcome, created_at: a.at, decided_at: null })
    .execute();
}

/** How many attempts since `since`, per reason and outcome. */
export async function countByReason(db: DbOrTx, since: number) {
  const rows = await db
    .selectFrom('signup_attempts')
    .select(['reason', 'outcome', (eb) => eb.fn.countAll<number | string>().as('n')])
    .where('created_at', '>=', since)
    .groupBy(['reason', 'outcome'])
    .execute();
  return rows.map((r) => ({ reason: r.reason, outcome: r.outcome, n: Number(r.n) }));
}

/** The latest attempts with one of `outcomes`, newest first, with their newsletter's name. */
export async function listAttempts(db: DbOrTx, outcomes: SignupOutcome[], limit: number) {
  return db
    .selectFrom('signup_attempts as a')
    .leftJoin('newsletters as n', 'n.id', 'a.newsletter_id')
    .select(['a.id', 'a.email', 'a.source', 'a.reason', 'a.outcome', 'a.created_at', 'a.decided_at', 'n.name as newsletter'])
    .where('a.outcome', 'in', outcomes)
    .orderBy('a.id', 'desc')
    .limit(limit)
    .execute();
}

export async function findAttempt(db: DbOrTx, id: number) {
  return db.selectFrom('signup_attempts').selectAll().where('id', '=', id).executeTakeFirst();
}

/** held → approved, once: the returned flag is the lock against a double approval. */
export async function markApproved(db: DbOrTx, id: number, at: number): Promise<boolean> {
  const result = await db.updateTable('signup_attempts').set({ outcome: 'approved', decided_at: at }).where('id', '=', id).where('outcome', '=', 'held').executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Records a spent challenge; false when it was spent before. */
export async function spendChallenge(db: DbOrTx, hash: string, expiresAt: number): Promise<boolean> {
  const result = await db
    .insertInto('used_challenges')
    .values({ signature_hash: hash, expires_at: expiresAt })
    .onConflict((oc) => oc.column('signature_hash').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** Housekeeping: spent challenges past their expiry, and attempts older than `before`. */
export async function pruneProtection(db: DbOrTx, now: number, before: number): Promise<number> {
  const a = await db.deleteFrom('used_challenges').where('expires_at', '<', now).executeTakeFirst();
  const b = await db.deleteFrom('signup_attempts').where('created_at', '<', before).where('outcome', '!=', 'held').executeTakeFirst();
  return Number(a.numDeletedRows) + Number(b.numDeletedRows);
}

export async function readSetting(db: DbOrTx, key: string): Promise<string | undefined> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  return row?.value;
}

export async function writeSetting(db: DbOrTx, key: string, value: string, at: number): Promise<void> {
  await db
    .insertInto('settings')
    .values({ key, value, updated_at: at })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: at }))
    .execute();
}
