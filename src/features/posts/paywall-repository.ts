import type { DbOrTx } from '../../db/database.js';

/** The reader an email went to (by its Message-ID), with their token and whether they have paid access now. */
export async function findReaderOfMessage(db: DbOrTx, messageId: string) {
  return db
    .selectFrom('deliveries as d')
    .innerJoin('posts as p', 'p.id', 'd.post_id')
    .innerJoin('subscribers as s', 's.id', 'd.subscriber_id')
    .innerJoin('subscriptions as sn', (j) => j.onRef('sn.subscriber_id', '=', 's.id').onRef('sn.newsletter_id', '=', 'p.newsletter_id'))
    .select(['d.post_id', 's.token', 'sn.paid_access', 'sn.status'])
    .where('d.message_id', '=', messageId)
    .executeTakeFirst();
}
