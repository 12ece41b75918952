import type { Db, DbOrTx } from '../../db/database.js';
import type { ErrorReportRow, NewErrorReportRow } from '../../db/tables/error-reports.js';
import type { JobRunRow } from '../../db/tables/jobs.js';

/** The SQL of the operator's views: the error reports, failed job runs, and the counts /metrics reads. */

export async function insertErrorReport(db: DbOrTx, row: NewErrorReportRow): Promise<void> {
  await db.insertInto('error_reports').values(row).execute();
}

/** Deletes all but the newest `keep` reports. */
export async function pruneErrorReports(db: DbOrTx, keep: number): Promise<void> {
  await db
    .deleteFrom('error_reports')
    .where('id', '<=', (eb) => eb.selectFrom('error_reports').select('id').orderBy('id', 'desc').limit(1).offset(keep))
    .execute();
}

export async function listErrorReports(db: DbOrTx, limit: number): Promise<ErrorReportRow[]> {
  return db.selectFrom('error_reports').selectAll().orderBy('id', 'desc').limit(limit).execute();
}

/** The newest runs that failed or were interrupted, of every job, newest first. */
export async function listFailedJobRuns(db: DbOrTx, limit: number): Promise<JobRunRow[]> {
  return db.selectFrom('job_runs').selectAll().where('status', 'in', ['error', 'interrupted']).orderBy('id', 'desc').limit(limit).execute();
}

/** Open and doubtful deliveries by status, over every post (each post's rows found through its index). */
export async function deliveryCounts(db: Db, statuses: readonly string[]): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('posts')
    .innerJoin('deliveries', 'deliveries.post_id', 'posts.id')
    .select(['deliveries.status as status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('deliveries.status', 'in', statuses as never)
    .groupBy('deliveries.status')
    .execute();
  return new Map(rows.map((r) => [r.status, Number(r.n)]));
}

/** Posts that are scheduled, sending or paused (the posts_status index). */
export async function openPostCounts(db: Db): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('posts')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('status', 'in', ['scheduled', 'sending', 'paused'])
    .groupBy('status')
    .execute();
  return new Map(rows.map((r) => [r.status, Number(r.n)]));
}

/** Single messages (confirmations, notices) by status, except the sent ones. */
export async function mailOutboxCounts(db: Db): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('mail_outbox')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('status', '!=', 'sent')
    .groupBy('status')
    .execute();
  return new Map(rows.map((r) => [r.status, Number(r.n)]));
}

/** Bounces and complaints recorded in the event log, since the start (the events_type_time index). */
export async function feedbackEventCounts(db: Db): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('events')
    .select(['type', (eb) => eb.fn.countAll<number>().as('n')])
    .where('type', 'in', ['bounced', 'complained'])
    .groupBy('type')
    .execute();
  return new Map(rows.map((r) => [r.type, Number(r.n)]));
}

export async function suppressionCounts(db: Db): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('suppressions')
    .select(['reason', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('reason')
    .execute();
  return new Map(rows.map((r) => [r.reason, Number(r.n)]));
}
