import type { Kysely } from 'kysely';

/**
 * deliveries(post_id, sent_at) served one query: the progress page's "sent in the last minute", which now
 * comes from the sent counts of earlier progress readings (src/sending/progress.ts). The index cost every send: no
 * update of a delivery row is HOT on Postgres, so each of its three updates added an entry here too, and
 * SQLite rewrote an entry whenever a row was marked sent.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('deliveries_sent_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('deliveries_sent_at').on('deliveries').columns(['post_id', 'sent_at']).execute();
}
