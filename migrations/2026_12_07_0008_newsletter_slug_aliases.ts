import type { Kysely } from 'kysely';

/**
 * A newsletter's old slugs, kept when it is renamed: embedded forms and links already out in the world
 * (/n/:slug, its subscribe URL, archive and feed) keep leading to it. A slug is either some newsletter's
 * current one or one newsletter's alias, never both; the application keeps that rule (it spans two
 * tables), the primary key keeps one alias per slug.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('newsletter_slug_aliases')
    .addColumn('slug', 'text', (c) => c.primaryKey())
    .addColumn('newsletter_id', 'integer', (c) => c.notNull().references('newsletters.id').onDelete('cascade'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('newsletter_slug_aliases_newsletter').on('newsletter_slug_aliases').column('newsletter_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('newsletter_slug_aliases').execute();
}
