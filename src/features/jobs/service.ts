import type { Db } from '../../db/database.js';
import type { JobRunRow } from '../../db/tables/jobs.js';
import type { JobRegistry } from '../../jobs/registry.js';
import { latestRuns } from '../../jobs/repository.js';

/** The admin's view of the job registry: what each job is, how its last run went, when it runs next. */

export interface JobLastRun {
  at: string;
  iso: string;
  /** "running", "ok", "error" or "interrupted": the outcome's CSS modifier. */
  status: JobRunRow['status'];
  outcome: string;
  duration: string | null;
  manual: boolean;
}

export interface JobSummary {
  name: string;
  description: string;
  schedule: string;
  scheduleWords: string;
  nextRun: string;
  nextRunIso: string;
  lastRun: JobLastRun | null;
}

/** Times on this page are UTC, as the schedules are. */
export const formatUtc = (ms: number) => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)} UTC`;

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

const OUTCOMES: Record<JobRunRow['status'], string> = {
  running: 'Running',
  ok: 'OK',
  idle: 'OK: nothing to do',
  error: 'Failed',
  interrupted: 'Interrupted: its process stopped during the run',
};

function lastRun(row: JobRunRow): JobLastRun {
  return {
    at: formatUtc(row.started_at),
    iso: new Date(row.started_at).toISOString(),
    status: row.status,
    outcome: row.status === 'error' && row.error ? `${OUTCOMES.error}: ${row.error}` : OUTCOMES[row.status],
    duration: row.duration_ms === null ? null : formatDuration(row.duration_ms),
    manual: row.trigger === 'manual',
  };
}

export async function listJobs(db: Db, registry: JobRegistry, now: number): Promise<JobSummary[]> {
  const jobs = registry.jobs();
  const runs = await latestRuns(
    db,
    jobs.map((j) => j.name),
  );
  return jobs.map((job) => {
    const next = registry.nextRun(job.name, now);
    const run = runs.get(job.name);
    return {
      name: job.name,
      description: job.description,
      schedule: job.schedule,
      scheduleWords: job.parsed.words,
      nextRun: formatUtc(next),
      nextRunIso: new Date(next).toISOString(),
      lastRun: run ? lastRun(run) : null,
    };
  });
}

/** Starts a run of `name` now; false when a run of it is going already (here or in another process). */
export function runJobNow(registry: JobRegistry, name: string): Promise<boolean> {
  return registry.trigger(name);
}
