import type { Generated, Insertable, Selectable } from 'kysely';

/**
 * running → ok | idle (it found nothing to do) | error; a `running` row whose process died becomes
 * `interrupted` at the job's next run.
 */
export type JobRunStatus = 'running' | 'ok' | 'idle' | 'error' | 'interrupted';
export type JobTrigger = 'schedule' | 'manual';

/** One run of a recurring job (src/jobs/registry.ts); the latest few per job are kept. */
export interface JobRunsTable {
  id: Generated<number>;
  job: string;
  trigger: JobTrigger;
  scheduled_for: number | null;
  status: JobRunStatus;
  runner: string;
  started_at: number;
  finished_at: number | null;
  duration_ms: number | null;
  error: string | null;
}

export type JobRunRow = Selectable<JobRunsTable>;
export type NewJobRunRow = Insertable<JobRunsTable>;
