import type { Kysely } from 'kysely';
import { idColumn } from './lib/schema.js';

/**
 * Open and click tracking (off unless a newsletter turns it on), per-subscriber consent, the hits the
 * tracking URLs record (a verdict, never the raw IP or user agent), and the roll-ups the stats pages read
 * so that they never scan raw hits or events.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // off | aggregate | subscriber
  await db.schema.alterTable('newsletters').addColumn('tracking_mode', 'text', (c) => c.notNull().defaultTo('off')).execute();
  // When the reader allowed per-person tracking for this newsletter; null when they did not (or withdrew).
  await db.schema.alterTable('subscriptions').addColumn('tracking_consent_at', 'bigint').execute();

  // Each distinct link of a post once: click tokens carry the id, the redirect goes only to the stored URL.
  await db.schema
    .createTable('tracked_links')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('post_id', 'integer', (c) => c.notNull().references('posts.id').onDelete('cascade'))
    .addColumn('url', 'text', (c) => c.notNull())
    // sha256 of url: URLs can exceed what a btree index entry holds on Postgres.
    .addColumn('url_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('tracked_links_post_url', ['post_id', 'url_hash'])
    .execute();

  await db.schema
    .createTable('tracking_hits')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('post_id', 'integer', (c) => c.notNull().references('posts.id').onDelete('cascade'))
    // open | click | canary
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('link_id', 'integer', (c) => c.references('tracked_links.id').onDelete('cascade'))
    // Set only for a reader who consented to per-person tracking (both null otherwise); a GDPR erasure of
    // the subscriber removes their hits with the subscriber row.
    .addColumn('delivery_id', 'integer')
    .addColumn('subscriber_id', 'integer', (c) => c.references('subscribers.id').onDelete('cascade'))
    // human | proxy_open | apple_mpp | scanner_head | scanner_ua | scanner_burst | canary | prefetch_window
    .addColumn('verdict', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('tracking_hits_post').on('tracking_hits').columns(['post_id', 'created_at']).execute();
  await db.schema.createIndex('tracking_hits_created').on('tracking_hits').column('created_at').execute();
  await db.schema.createIndex('tracking_hits_subscriber').on('tracking_hits').columns(['subscriber_id', 'created_at']).execute();

  // Roll-ups, rebuilt by the stats job for the posts and days that changed.
  await db.schema
    .createTable('post_hour_stats')
    .addColumn('post_id', 'integer', (c) => c.notNull().references('posts.id').onDelete('cascade'))
    .addColumn('hour', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('verdict', 'text', (c) => c.notNull())
    .addColumn('hits', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('post_hour_stats_pk', ['post_id', 'hour', 'kind', 'verdict'])
    .execute();
  await db.schema
    .createTable('link_stats')
    .addColumn('link_id', 'integer', (c) => c.primaryKey().references('tracked_links.id').onDelete('cascade'))
    .addColumn('post_id', 'integer', (c) => c.notNull().references('posts.id').onDelete('cascade'))
    .addColumn('human_clicks', 'integer', (c) => c.notNull())
    .addColumn('machine_clicks', 'integer', (c) => c.notNull())
    .addColumn('human_clickers', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('link_stats_post').on('link_stats').column('post_id').execute();
  await db.schema
    .createTable('post_stats')
    .addColumn('post_id', 'integer', (c) => c.primaryKey().references('posts.id').onDelete('cascade'))
    .addColumn('recipients', 'integer', (c) => c.notNull())
    .addColumn('delivered', 'integer', (c) => c.notNull())
    .addColumn('failed', 'integer', (c) => c.notNull())
    .addColumn('bounced', 'integer', (c) => c.notNull())
    .addColumn('complained', 'integer', (c) => c.notNull())
    .addColumn('unsubscribed', 'integer', (c) => c.notNull())
    .addColumn('human_opens', 'integer', (c) => c.notNull())
    .addColumn('machine_opens', 'integer', (c) => c.notNull())
    .addColumn('human_clicks', 'integer', (c) => c.notNull())
    .addColumn('machine_clicks', 'integer', (c) => c.notNull())
    .addColumn('unique_openers', 'integer', (c) => c.notNull())
    .addColumn('unique_clickers', 'integer', (c) => c.notNull())
    .addColumn('refreshed_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('newsletter_day_stats')
    .addColumn('newsletter_id', 'integer', (c) => c.notNull().references('newsletters.id').onDelete('cascade'))
    .addColumn('day', 'bigint', (c) => c.notNull())
    .addColumn('subscribed', 'integer', (c) => c.notNull())
    .addColumn('unsubscribed', 'integer', (c) => c.notNull())
    .addColumn('bounced', 'integer', (c) => c.notNull())
    .addColumn('complained', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('newsletter_day_stats_pk', ['newsletter_id', 'day'])
    .execute();
  // Where the stats job got to: the time up to which hits and events are rolled up.
  await db.schema
    .createTable('stats_watermarks')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('until', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['stats_watermarks', 'newsletter_day_stats', 'post_stats', 'link_stats', 'post_hour_stats', 'tracking_hits', 'tracked_links']) {
    await db.schema.dropTable(table).execute();
  }
  await db.schema.alterTable('subscriptions').dropColumn('tracking_consent_at').execute();
  await db.schema.alterTable('newsletters').dropColumn('tracking_mode').execute();
}
