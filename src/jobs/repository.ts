import { sql } from 'kysely';
import type { Db, DbOrTx } from '../db/database.js';
import type { JobRunRow, JobRunStatus, JobTrigger } from '../db/tables/jobs.js';

/** The SQL of the job registry: the `job_runs` history. */

export interface RunStart {
  job: string;
  trigger: JobTrigger;
  /** The cron tick for a scheduled run; null for a manual one. */
  scheduledFor: number | null;
  runner: string;
  startedAt: number;
}

/**
 * Writes the `running` row of a run; undefined when a scheduled run of this tick already has a row (another
 * process took the tick), since (job, scheduled_for) is unique.
 */
export async function insertRun(db: DbOrTx, run: RunStart): Promise<number | undefined> {
  const row = await db
    .insertInto('job_runs')
    .values({
      job: run.job,
      trigger: run.trigger,
      scheduled_for: run.scheduledFor,
      status: 'running',
      runner: run.runner,
      started_at: run.startedAt,
    })
    .onConflict((oc) => oc.columns(['job', 'scheduled_for']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id;
}

export async function finishRun(
  db: DbOrTx,
  id: number,
  outcome: { status: Extract<JobRunStatus, 'ok' | 'idle' | 'error'>; finishedAt: number; durationMs: number; error: string | null },
): Promise<void> {
  await db
    .updateTable('job_runs')
    .set({ status: outcome.status, finished_at: outcome.finishedAt, duration_ms: outcome.durationMs, error: outcome.error })
    .where('id', '=', id)
    .where('status', '=', 'running')
    .execute();
}

/**
 * Runs of `job` still marked running, called while this process holds the job (its lock, or on SQLite
 * its only runner): their process died, so they are marked interrupted.
 */
export async function markInterrupted(db: DbOrTx, job: string): Promise<number> {
  const r = await db.updateTable('job_runs').set({ status: 'interrupted' }).where('job', '=', job).where('status', '=', 'running').executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** Deletes the earlier idle runs of `job`: of the runs that found nothing to do, only `latest` stays. */
export async function pruneIdleRuns(db: DbOrTx, job: string, latest: number): Promise<void> {
  await db.deleteFrom('job_runs').where('job', '=', job).where('status', '=', 'idle').where('id', '<', latest).execute();
}

/** Deletes all but the newest `keep` runs of `job`. */
export async function pruneRuns(db: DbOrTx, job: string, keep: number): Promise<void> {
  await db
    .deleteFrom('job_runs')
    .where('job', '=', job)
    .where('id', '<=', (eb) => eb.selectFrom('job_runs').select('id').where('job', '=', job).orderBy('id', 'desc').limit(1).offset(keep))
    .execute();
}

/** The newest run of each of `jobs`. */
export async function latestRuns(db: DbOrTx, jobs: string[]): Promise<Map<string, JobRunRow>> {
  const latest = new Map<string, JobRunRow>();
  if (jobs.length === 0) return latest;
  const rows = await db
    .selectFrom('job_runs')
    .selectAll()
    .where('id', 'in', (eb) => eb.selectFrom('job_runs').select((e) => e.fn.max('id').as('id')).where('job', 'in', jobs).groupBy('job'))
    .execute();
  for (const row of rows) latest.set(row.job, row);
  return latest;
}

/** The newest runs of one job, newest first. */
export async function recentRuns(db: DbOrTx, job: string, limit: number): Promise<JobRunRow[]> {
  return db.selectFrom('job_runs').selectAll().where('job', '=', job).orderBy('id', 'desc').limit(limit).execute();
}

/** The advisory lock key of `job`, per schema, so installations in different schemas never block each other. */
const jobLockKey = (job: string) => sql`hashtext('gazette-jobs:' || current_schema()), hashtext(${job})`;

/** Postgres only: takes the session lock of `job` on this connection when no other session holds it. */
export async function tryJobLock(conn: Db, job: string): Promise<boolean> {
  const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${jobLockKey(job)}) as locked`.execute(conn);
  return rows[0]?.locked === true;
}

export async function releaseJobLock(conn: Db, job: string): Promise<void> {
  await sql`select pg_advisory_unlock(${jobLockKey(job)})`.execute(conn);
}
