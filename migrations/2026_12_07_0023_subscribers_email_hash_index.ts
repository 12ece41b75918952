import type { Kysely } from 'kysely';

/**
 * subscribers.email_hash gets its index back (0005 dropped it when only the send used the column, always
 * probing suppressions with it). The Suppressions page and its CSV export now go the other way: from each
 * suppression to the subscriber with that hash, and without the index every page scanned the subscribers
 * table (SQLite built an automatic index over all of it per query; Postgres hashed all of it). The price is
 * on imports, whose random hashes land on a different page of this index per row (see bench/RESULTS.md).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('subscribers_email_hash').on('subscribers').column('email_hash').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('subscribers_email_hash').execute();
}
