import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { WelcomeMailRow } from '../../db/tables/welcome.js';

export async function findWelcomeMail(db: DbOrTx, newsletterId: number): Promise<WelcomeMailRow | undefined> {
  return db.selectFrom('welcome_mails').selectAll().where('newsletter_id', '=', newsletterId).executeTakeFirst();
}

export async function saveWelcomeMail(db: DbOrTx, w: { newsletterId: number; enabled: boolean; subject: string; body: string; at: number }): Promise<void> {
  const values = { enabled: w.enabled ? 1 : 0, subject: w.subject, body: w.body, updated_at: w.at };
  await db
    .insertInto('welcome_mails')
    .values({ newsletter_id: w.newsletterId, ...values })
    .onConflict((oc) => oc.column('newsletter_id').doUpdateSet(values))
    .execute();
}

/**
 * Claims the welcome of these subscribers to this newsletter: a row is written for each one that has none
 * (the primary key refuses a second), and the ones written are returned. The caller's transaction then
 * queues their mail; if it rolls back, so does the claim.
 */
export async function claimWelcomes(db: DbOrTx, newsletterId: number, subscriberIds: number[], at: number): Promise<number[]> {
  if (subscriberIds.length === 0) return [];
  const rows = await db
    .insertInto('welcome_sent')
    .values(subscriberIds.map((id) => ({ newsletter_id: newsletterId, subscriber_id: id, mail_id: null, created_at: at })))
    .onConflict((oc) => oc.columns(['newsletter_id', 'subscriber_id']).doNothing())
    .returning('subscriber_id')
    .execute();
  return rows.map((r) => r.subscriber_id);
}

export async function setWelcomeMailId(db: DbOrTx, newsletterId: number, subscriberId: number, mailId: number): Promise<void> {
  await db.updateTable('welcome_sent').set({ mail_id: mailId }).where('newsletter_id', '=', newsletterId).where('subscriber_id', '=', subscriberId).execute();
}

export async function welcomeRecipients(db: DbOrTx, subscriberIds: number[]) {
  return db.selectFrom('subscribers').select(['id', 'email', 'name', 'token', 'attributes']).where('id', 'in', subscriberIds).orderBy('id').execute();
}

export async function countWelcomesSent(db: DbOrTx, newsletterId: number): Promise<number> {
  const row = await db.selectFrom('welcome_sent').select(sql<number>`count(*)`.as('n')).where('newsletter_id', '=', newsletterId).executeTakeFirstOrThrow();
  return Number(row.n);
}
