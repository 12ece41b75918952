import type { Kysely } from 'kysely';
import { idColumn } from './lib/schema.js';

/**
 * One row per run of a recurring job (src/jobs/registry.ts): when it started, how long it took and how it
 * ended, shown on the admin's Jobs page. Only the latest runs of each job are kept.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('job_runs')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('job', 'text', (c) => c.notNull())
    // 'schedule' (a cron tick) or 'manual' (the admin's "Run now").
    .addColumn('trigger', 'text', (c) => c.notNull())
    // The cron tick a scheduled run belongs to; null for a manual run. Unique per job, so when several
    // processes see the same tick only the first to insert its row runs it.
    .addColumn('scheduled_for', 'bigint')
    .addColumn('status', 'text', (c) => c.notNull())
    // Host and process id of the process that ran it.
    .addColumn('runner', 'text', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .addColumn('duration_ms', 'integer')
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('job_runs_tick').on('job_runs').columns(['job', 'scheduled_for']).unique().execute();
  await db.schema.createIndex('job_runs_latest').on('job_runs').columns(['job', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('job_runs').execute();
}
