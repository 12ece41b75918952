import type { Kysely } from 'kysely';

/**
 * Subscribers admin and CSV import. Import progress is measured in bytes of the stored upload (the row
 * count is unknown until the end), and a heartbeat tells a live import from one a restart interrupted.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('imports').addColumn('file_size', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('imports').addColumn('bytes_read', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('imports').addColumn('heartbeat_at', 'bigint').execute();
  await db.schema.createIndex('imports_created').on('imports').columns(['created_at', 'id']).execute();
  // A GDPR erasure removes the address from import reports too.
  await db.schema.createIndex('import_problems_email').on('import_problems').column('email').execute();
  // The list's pages walk subscribers_created (newest/oldest) or the unique email index (A–Z), both from
  // 0002; the status tabs without a newsletter filter count subscriptions per status from this one.
  await db.schema.createIndex('subscriptions_status').on('subscriptions').columns(['status', 'subscriber_id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('subscriptions_status').execute();
  await db.schema.dropIndex('import_problems_email').execute();
  await db.schema.dropIndex('imports_created').execute();
  await db.schema.alterTable('imports').dropColumn('heartbeat_at').execute();
  await db.schema.alterTable('imports').dropColumn('bytes_read').execute();
  await db.schema.alterTable('imports').dropColumn('file_size').execute();
}
