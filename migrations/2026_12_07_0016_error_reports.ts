import type { Kysely } from 'kysely';
import { idColumn } from './lib/schema.js';

/**
 * The latest errors of the server (failed requests, failed jobs, crashes), redacted, for the admin's Errors
 * page: a writer without Sentry still hears about them. Only the latest few are kept.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('error_reports')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('occurred_at', 'bigint', (c) => c.notNull())
    // 'request' (a 5xx answer), 'job' (a failed job run), 'background' (the send loop, the mail outbox) or
    // 'process' (an error nothing caught).
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('request_id', 'text')
    .addColumn('method', 'text')
    // The route template (/admin/posts/:id), never the URL with its tokens.
    .addColumn('route', 'text')
    .addColumn('status', 'integer')
    .addColumn('job', 'text')
    .addColumn('error_type', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('stack', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('error_reports').execute();
}
