import type { Kysely } from 'kysely';
import { idColumn } from './lib/schema.js';

/**
 * The last check of each link found in a draft (src/features/links/), kept for a while so a writer who
 * checks again, or the pre-send checks, do not fetch every site again. Keyed by a hash of the URL: a URL
 * may be longer than an index entry allows.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('link_checks')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('url_hash', 'text', (c) => c.notNull().unique())
    .addColumn('url', 'text', (c) => c.notNull())
    // ok | redirected | broken | server-error | refused | timeout | dns | tls | unsafe | failed
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('http_status', 'integer')
    // Where the redirects ended, for "use the final URL".
    .addColumn('final_url', 'text')
    .addColumn('redirects', 'integer', (c) => c.notNull().defaultTo(0))
    // Whether every redirect was permanent (301/308): the link should be updated.
    .addColumn('permanent', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('checked_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('link_checks_expiry').on('link_checks').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('link_checks').execute();
}
