import type { Kysely } from 'kysely';
import { idColumn } from './lib/schema.js';

/**
 * Images uploaded for posts (one `media` row per distinct upload, one `media_files` row per stored file:
 * the metadata-free original and its email widths, each named by the hash of its bytes), and the welcome
 * mail: the writer's text per newsletter, and one `welcome_sent` row per subscriber and newsletter whose
 * primary key is what makes a welcome go out at most once.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('media')
    .addColumn('id', 'integer', idColumn(db))
    // SHA-256 of the bytes as uploaded: the same file uploaded again is the same media.
    .addColumn('upload_hash', 'text', (c) => c.notNull().unique())
    .addColumn('content_type', 'text', (c) => c.notNull())
    .addColumn('width', 'integer', (c) => c.notNull())
    .addColumn('height', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('media_files')
    // "<sha256 of the bytes>.<ext>": the URL's last segment and the storage key.
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('media_id', 'integer', (c) => c.notNull().references('media.id').onDelete('cascade'))
    // 0 for the original; otherwise the width it was resized to.
    .addColumn('variant', 'integer', (c) => c.notNull())
    .addColumn('width', 'integer', (c) => c.notNull())
    .addColumn('height', 'integer', (c) => c.notNull())
    .addColumn('bytes', 'integer', (c) => c.notNull())
    .addColumn('content_type', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('media_files_media').on('media_files').columns(['media_id', 'variant']).unique().execute();
  // Not unique: two uploads of one picture with different metadata come out as the same bytes.
  await db.schema.createIndex('media_files_key').on('media_files').column('key').execute();

  await db.schema
    .createTable('welcome_mails')
    .addColumn('newsletter_id', 'integer', (c) => c.primaryKey().references('newsletters.id').onDelete('cascade'))
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('welcome_sent')
    .addColumn('newsletter_id', 'integer', (c) => c.notNull().references('newsletters.id').onDelete('cascade'))
    .addColumn('subscriber_id', 'integer', (c) => c.notNull().references('subscribers.id').onDelete('cascade'))
    // The mail_outbox row that carries it (not a foreign key: the outbox may be pruned, the promise stays).
    .addColumn('mail_id', 'integer')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('welcome_sent_pk', ['newsletter_id', 'subscriber_id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('welcome_sent').execute();
  await db.schema.dropTable('welcome_mails').execute();
  await db.schema.dropTable('media_files').execute();
  await db.schema.dropTable('media').execute();
}
