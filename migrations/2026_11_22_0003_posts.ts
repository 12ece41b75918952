import type { Kysely } from 'kysely';
import { idColumn } from './lib/schema.js';

/** Posts (what a writer writes) and deliveries (the per-recipient outbox a send works through). */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('posts')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('newsletter_id', 'integer', (c) => c.notNull().references('newsletters.id').onDelete('cascade'))
    .addColumn('slug', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('preheader', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('body', 'text', (c) => c.notNull().defaultTo(''))
    // draft | scheduled | sending | paused | sent | cancelled
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('draft'))
    .addColumn('audience', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('scheduled_at', 'bigint')
    // Set when a scheduled start was missed by more than the allowed lateness: waits for the writer.
    .addColumn('held_reason', 'text')
    .addColumn('audience_frozen_at', 'bigint')
    .addColumn('started_at', 'bigint')
    .addColumn('sent_at', 'bigint')
    .addColumn('paused_reason', 'text')
    // When a relay-level pause (refused connection, failed login, repeated 421) is probed again.
    .addColumn('resume_at', 'bigint')
    // Consecutive relay-level pauses: the probe interval doubles with each, reset by a successful send.
    .addColumn('relay_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('posts_newsletter_slug', ['newsletter_id', 'slug'])
    .execute();
  await db.schema.createIndex('posts_status').on('posts').columns(['status', 'scheduled_at']).execute();

  await db.schema
    .createTable('deliveries')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('post_id', 'integer', (c) => c.notNull().references('posts.id').onDelete('cascade'))
    .addColumn('subscriber_id', 'integer', (c) => c.references('subscribers.id').onDelete('set null'))
    .addColumn('email', 'text', (c) => c.notNull())
    // Generated when the audience is snapshotted and reused by every retry of this recipient.
    .addColumn('message_id', 'text', (c) => c.notNull())
    // queued | claimed | attempting | sent | retry | failed | unknown | skipped | cancelled
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('queued'))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('claimed_by', 'text')
    .addColumn('claimed_at', 'bigint')
    .addColumn('attempted_at', 'bigint')
    .addColumn('sent_at', 'bigint')
    .addColumn('response', 'text')
    .addColumn('error', 'text')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('deliveries_post_subscriber', ['post_id', 'subscriber_id'])
    .addUniqueConstraint('deliveries_post_email', ['post_id', 'email'])
    .execute();
  await db.schema
    .createIndex('deliveries_claim')
    .on('deliveries')
    .columns(['post_id', 'status', 'next_attempt_at', 'id'])
    .execute();
  // The send rate on the progress page counts recent sent_at values.
  await db.schema.createIndex('deliveries_sent_at').on('deliveries').columns(['post_id', 'sent_at']).execute();

  // One row per singleton job (e.g. the scheduler): whoever holds an unexpired lease leads.
  await db.schema
    .createTable('leases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('leases').execute();
  await db.schema.dropTable('deliveries').execute();
  await db.schema.dropTable('posts').execute();
}
