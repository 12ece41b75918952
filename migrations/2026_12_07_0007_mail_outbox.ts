import type { Kysely } from 'kysely';
import { idColumn } from './lib/schema.js';

/**
 * Single messages (confirmations, notices, password resets) are written here in the transaction that
 * decides them and sent after commit, so no request holds the database while a relay answers, and a
 * relay that fails is retried in the background instead of losing the mail.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('mail_outbox')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('to_address', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    // Fixed when the mail is queued, so every attempt carries the same Message-ID.
    .addColumn('message_id', 'text', (c) => c.notNull())
    // The whole message as JSON (from, to, subject, text, html, headers).
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('claimed_at', 'bigint')
    .addColumn('last_error', 'text')
    .addColumn('response', 'text')
    // A GDPR wipe of the subscriber removes their queued mail with them.
    .addColumn('subscriber_id', 'integer', (c) => c.references('subscribers.id').onDelete('cascade'))
    .addColumn('newsletter_id', 'integer', (c) => c.references('newsletters.id').onDelete('cascade'))
    // Recorded in the event log once the relay accepts the message.
    .addColumn('event_type', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('sent_at', 'bigint')
    .execute();
  await db.schema.createIndex('mail_outbox_due').on('mail_outbox').columns(['status', 'next_attempt_at']).execute();
  await db.schema.createIndex('mail_outbox_created').on('mail_outbox').column('created_at').execute();
  await db.schema.createIndex('mail_outbox_subscriber').on('mail_outbox').column('subscriber_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('mail_outbox').execute();
}
