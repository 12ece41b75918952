import type { Kysely } from 'kysely';
import { idColumn } from './lib/schema.js';

/** Newsletters, the subscriber list, consent, suppression and the event log. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('newsletters')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('slug', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('from_name', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('from_email', 'text', (c) => c.notNull())
    .addColumn('reply_to', 'text')
    .addColumn('double_opt_in', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('archive_public', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('postal_address', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('time_zone', 'text', (c) => c.notNull().defaultTo('UTC'))
    // 1 for the newsletter "/" shows, NULL for the others: unique, so there is never more than one.
    .addColumn('default_lock', 'integer', (c) => c.unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('subscribers')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('email', 'text', (c) => c.notNull().unique())
    // sha256 of the email: joins against suppressions (which keep only the hash) without a function call.
    .addColumn('email_hash', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('attributes', 'text', (c) => c.notNull().defaultTo('{}'))
    // Opaque, per subscriber: the key in unsubscribe and preferences links. Grants nothing else.
    .addColumn('token', 'text', (c) => c.notNull().unique())
    .addColumn('source', 'text', (c) => c.notNull().defaultTo('form'))
    .addColumn('ip', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('subscribers_created').on('subscribers').columns(['created_at', 'id']).execute();
  await db.schema.createIndex('subscribers_name').on('subscribers').column('name').execute();
  await db.schema.createIndex('subscribers_email_hash').on('subscribers').column('email_hash').execute();

  await db.schema
    .createTable('subscriptions')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('subscriber_id', 'integer', (c) => c.notNull().references('subscribers.id').onDelete('cascade'))
    .addColumn('newsletter_id', 'integer', (c) => c.notNull().references('newsletters.id').onDelete('cascade'))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('consent_ip', 'text')
    .addColumn('confirm_sent_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('confirmed_at', 'bigint')
    .addColumn('unsubscribed_at', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('subscriptions_subscriber_newsletter', ['subscriber_id', 'newsletter_id'])
    .execute();
  // The audience query of a send walks this index in subscriber order (keyset pages).
  await db.schema
    .createIndex('subscriptions_audience')
    .on('subscriptions')
    .columns(['newsletter_id', 'status', 'subscriber_id'])
    .execute();

  await db.schema
    .createTable('confirmation_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('subscription_id', 'integer', (c) => c.notNull().references('subscriptions.id').onDelete('cascade'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema.createIndex('confirmation_tokens_subscription').on('confirmation_tokens').column('subscription_id').execute();

  await db.schema
    .createTable('tags')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('subscriber_tags')
    .addColumn('subscriber_id', 'integer', (c) => c.notNull().references('subscribers.id').onDelete('cascade'))
    .addColumn('tag_id', 'integer', (c) => c.notNull().references('tags.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('subscriber_tags_pk', ['subscriber_id', 'tag_id'])
    .execute();
  await db.schema.createIndex('subscriber_tags_tag').on('subscriber_tags').columns(['tag_id', 'subscriber_id']).execute();

  // Keyed by a hash of the address, so a suppression survives a GDPR wipe without keeping the address.
  await db.schema
    .createTable('suppressions')
    .addColumn('email_hash', 'text', (c) => c.primaryKey())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('events')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('subscriber_id', 'integer', (c) => c.references('subscribers.id').onDelete('set null'))
    .addColumn('newsletter_id', 'integer', (c) => c.references('newsletters.id').onDelete('set null'))
    .addColumn('post_id', 'integer')
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('events_subscriber').on('events').columns(['subscriber_id', 'id']).execute();
  await db.schema.createIndex('events_type_time').on('events').columns(['type', 'created_at']).execute();

  await db.schema
    .createTable('imports')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('public_id', 'text', (c) => c.notNull().unique())
    .addColumn('newsletter_id', 'integer', (c) => c.notNull().references('newsletters.id').onDelete('cascade'))
    .addColumn('filename', 'text', (c) => c.notNull())
    .addColumn('mode', 'text', (c) => c.notNull())
    .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('total_rows', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('skipped_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('invalid_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('duplicate_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .execute();

  await db.schema
    .createTable('import_problems')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('import_id', 'integer', (c) => c.notNull().references('imports.id').onDelete('cascade'))
    .addColumn('line', 'integer', (c) => c.notNull())
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('import_problems_import').on('import_problems').columns(['import_id', 'line']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'import_problems', 'imports', 'events', 'suppressions', 'subscriber_tags', 'tags',
    'confirmation_tokens', 'subscriptions', 'subscribers', 'newsletters',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
