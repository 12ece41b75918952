import type { Kysely } from 'kysely';
import { idColumn } from './lib/schema.js';

/**
 * Bounces, complaints and unsubscribe requests reported after the fact (relay webhooks, the bounce
 * mailbox), stored once per source and report id, and what ties them to a delivery: our Message-ID and the
 * relay's own id for the message, which it gave in its SMTP answer. Suppressions say where they came from.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('feedback_reports')
    .addColumn('id', 'integer', idColumn(db))
    // ses | postmark | mailgun | sendgrid | brevo | resend | mailbox
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('report_id', 'text', (c) => c.notNull())
    // hard_bounce | soft_bounce | complaint | unsubscribe
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('email_hash', 'text', (c) => c.notNull())
    .addColumn('delivery_id', 'integer', (c) => c.references('deliveries.id').onDelete('set null'))
    .addColumn('post_id', 'integer', (c) => c.references('posts.id').onDelete('set null'))
    .addColumn('subscriber_id', 'integer', (c) => c.references('subscribers.id').onDelete('set null'))
    .addColumn('diagnostic_code', 'text')
    .addColumn('diagnostic_text', 'text')
    // What the policy did: suppressed | counted | unsubscribed | ignored
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('occurred_at', 'bigint', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    // The payload as received; emptied after 30 days by the feedback-prune job.
    .addColumn('raw', 'text')
    .addUniqueConstraint('feedback_reports_source_report', ['source', 'report_id'])
    .execute();
  await db.schema.createIndex('feedback_reports_address').on('feedback_reports').columns(['email_hash', 'occurred_at']).execute();
  await db.schema.createIndex('feedback_reports_delivery').on('feedback_reports').columns(['delivery_id']).execute();
  await db.schema.createIndex('feedback_reports_post').on('feedback_reports').columns(['post_id', 'kind']).execute();
  await db.schema.createIndex('feedback_reports_received').on('feedback_reports').columns(['received_at']).execute();

  // Filled from the relay's SMTP answer when a message is sent (e.g. SES's "250 Ok <id>").
  await db.schema.alterTable('deliveries').addColumn('relay_id', 'text').execute();
  await db.schema.createIndex('deliveries_relay_id').on('deliveries').columns(['relay_id']).execute();
  await db.schema.createIndex('deliveries_message_id').on('deliveries').columns(['message_id']).execute();

  // smtp (a 5xx answer while sending), a relay webhook's name, mailbox, or policy.
  await db.schema.alterTable('suppressions').addColumn('source', 'text', (c) => c.notNull().defaultTo('smtp')).execute();
  await db.schema.createIndex('suppressions_created').on('suppressions').columns(['created_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('suppressions_created').execute();
  await db.schema.alterTable('suppressions').dropColumn('source').execute();
  await db.schema.dropIndex('deliveries_message_id').execute();
  await db.schema.dropIndex('deliveries_relay_id').execute();
  await db.schema.alterTable('deliveries').dropColumn('relay_id').execute();
  await db.schema.dropTable('feedback_reports').execute();
}
