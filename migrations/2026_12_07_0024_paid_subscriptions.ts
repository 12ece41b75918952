import type { Kysely } from 'kysely';
import { idColumn } from './lib/schema.js';

/**
 * Paid subscriptions through Stripe: each newsletter's prices (Stripe prices are immutable, so a new
 * amount is a new price id), one billing row per paid subscription mirroring Stripe's state, the ids of
 * the webhook events already processed (Stripe delivers at least once), and two plain columns the
 * sending engine filters on without knowing about billing: a post's audience tier and a subscription's
 * paid access.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('paid_plans')
    .addColumn('newsletter_id', 'integer', (c) => c.primaryKey().references('newsletters.id').onDelete('cascade'))
    .addColumn('stripe_product_id', 'text', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    // Amounts in the currency's smallest unit (cents); null: that interval is not offered.
    .addColumn('monthly_amount', 'integer')
    .addColumn('monthly_price_id', 'text')
    .addColumn('yearly_amount', 'integer')
    .addColumn('yearly_price_id', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('paid_subscriptions')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('stripe_subscription_id', 'text', (c) => c.notNull().unique())
    .addColumn('stripe_customer_id', 'text', (c) => c.notNull())
    .addColumn('subscription_id', 'integer', (c) => c.notNull().references('subscriptions.id').onDelete('cascade'))
    .addColumn('newsletter_id', 'integer', (c) => c.notNull())
    .addColumn('subscriber_id', 'integer', (c) => c.notNull())
    // monthly | yearly
    .addColumn('plan', 'text', (c) => c.notNull())
    .addColumn('amount', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('currency', 'text', (c) => c.notNull().defaultTo('eur'))
    // Stripe's status, except that a subscription whose collection is paused reads "paused".
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('current_period_end', 'bigint')
    .addColumn('pause_until', 'bigint')
    .addColumn('cancel_at_period_end', 'integer', (c) => c.notNull().defaultTo(0))
    // The newest Stripe state applied (event or API answer, ms): an older one arriving later is ignored.
    .addColumn('last_event_at', 'bigint', (c) => c.notNull())
    // The pause end the restart reminder was queued for, so each pause gets exactly one reminder.
    .addColumn('reminded_for', 'bigint')
    .addColumn('canceled_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('paid_subscriptions_subscription').on('paid_subscriptions').column('subscription_id').execute();
  await db.schema.createIndex('paid_subscriptions_newsletter').on('paid_subscriptions').columns(['newsletter_id', 'status']).execute();

  await db.schema
    .createTable('stripe_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .execute();

  // everyone | free | paid
  await db.schema.alterTable('posts').addColumn('audience_tier', 'text', (c) => c.notNull().defaultTo('everyone')).execute();
  // 1 while a paid subscription gives access to paid posts (kept by the billing module only).
  await db.schema.alterTable('subscriptions').addColumn('paid_access', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('subscriptions').dropColumn('paid_access').execute();
  await db.schema.alterTable('posts').dropColumn('audience_tier').execute();
  await db.schema.dropTable('stripe_events').execute();
  await db.schema.dropTable('paid_subscriptions').execute();
  await db.schema.dropTable('paid_plans').execute();
}
