import type { Kysely } from 'kysely';

/**
 * subscribers.email_hash needs no index of its own: every query that uses it (the audience, the claim and
 * marker checks) probes the suppressions table's primary key with it. The index only cost writes: the
 * hashes are random, so each batch of an import rewrote a different page of it per row.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('subscribers_email_hash').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('subscribers_email_hash').on('subscribers').column('email_hash').execute();
}
