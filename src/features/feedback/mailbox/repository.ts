import type { DbOrTx } from '../../../db/database.js';

/** The address of the subscriber whose personal token this is (the List-Unsubscribe mailto names it). */
export async function subscriberEmailByToken(db: DbOrTx, token: string): Promise<string | undefined> {
  const row = await db.selectFrom('subscribers').select('email').where('token', '=', token).executeTakeFirst();
  return row?.email;
}
