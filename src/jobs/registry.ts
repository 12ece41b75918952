import os from 'node:os';
import cron, { type ScheduledTask } from 'node-cron';
import type { Db, Dialect } from '../db/database.js';
import type { JobTrigger } from '../db/tables/jobs.js';
import type { Clock } from '../lib/clock.js';
import { NotFoundError } from '../lib/errors.js';
import { withJobLock } from './leadership.js';
import { finishRun, insertRun, markInterrupted, pruneIdleRuns, pruneRuns } from './repository.js';
import { isTick, nextRunAfter, parseSchedule, SCHEDULE_TIME_ZONE, type Schedule } from './schedule.js';

/**
 * The recurring work of the server (DESIGN.md "Jobs"): each job has a name, a node-cron schedule and a
 * `run`. Every run is recorded in `job_runs` (start, duration, outcome; the latest KEEP_RUNS per job, and of
 * the runs that found nothing to do only the newest).
 *
 * - A job is not started while a run of it is still going, here or on Postgres in another process (the
 *   job's advisory lock, see leadership.ts): the tick is skipped and leaves no row.
 * - A cron tick runs at most once however many processes see it: the first to write the tick's row runs it.
 * - Tests call `runDue(now)` (what a tick at `now` does) and `runOnce(name)`; only `start()` uses node-cron's
 *   timers.
 */

export interface JobLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface JobContext {
  /** The registry clock's time when the run started. */
  now: number;
  trigger: JobTrigger;
}

export interface JobDefinition {
  /** Stable identifier (kebab-case): the key of its history and of its lock. */
  name: string;
  /** node-cron expression, evaluated in UTC; 6 fields when the first is seconds. */
  schedule: string;
  /** One sentence for the admin: what the job does. */
  description: string;
  /**
   * Resolves to 'idle' when the run found nothing to do: such a run keeps one row (the last check), so the
   * history shows the runs that did something and every failure rather than thousands of empty checks.
   */
  run(ctx: JobContext): Promise<void | 'idle'>;
}

export interface RegisteredJob extends JobDefinition {
  parsed: Schedule;
}

export type JobResult =
  | { outcome: 'ok'; runId: number }
  | { outcome: 'error'; runId: number; error: string }
  /**
   * running: this process's last run is still going; locked: another process is running the job;
   * ran-elsewhere: another process took this tick; stopped: the registry is stopping.
   */
  | { outcome: 'skipped'; reason: 'running' | 'locked' | 'ran-elsewhere' | 'stopped' };

export interface JobRegistry {
  /** Throws on a duplicate name or a schedule node-cron does not accept. */
  register(job: JobDefinition): void;
  jobs(): RegisteredJob[];
  /** When the job runs next after `now` (by its schedule, whether or not the registry is started). */
  nextRun(name: string, now: number): number;
  /** Runs the job now, outside its schedule (the admin's "Run now"), and waits for it. */
  runOnce(name: string): Promise<JobResult>;
  /** Starts a manual run and resolves once it has started (true) or was refused (false); it goes on after. */
  trigger(name: string): Promise<boolean>;
  /** What a cron tick at `now` does: runs every job whose schedule has a tick at that second. */
  runDue(now: number): Promise<Map<string, JobResult>>;
  /** Schedules every job on node-cron (the server calls this after listen). */
  start(): void;
  /** No new runs; resolves once the running ones have finished. */
  stop(): Promise<void>;
  /** Resolves once no run is going. */
  idle(): Promise<void>;
}

export interface JobRegistryDeps {
  db: Db;
  dialect: Dialect;
  clock: Clock;
  log?: JobLog;
  /** Runs kept per job (default KEEP_RUNS). */
  keepRuns?: number;
  /** Hears how each run ended (metrics, error reports); called after the run is recorded, must not throw. */
  onRunFinished?: (run: FinishedRun) => void;
}

export interface FinishedRun {
  job: string;
  status: 'ok' | 'idle' | 'error';
  durationMs: number;
  /** What the run threw, for a run that failed. */
  error?: unknown;
}

export const KEEP_RUNS = 50;
/** A tick node-cron fires this late is still run (a busy event loop delays timers); a later one is dropped. */
const LATE_TICK_TOLERANCE_MS = 4000;

const silent: JobLog = { info() {}, warn() {}, error() {} };
const describeError = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 1000) || 'failed without a message';

export function createJobRegistry(deps: JobRegistryDeps): JobRegistry {
  const { db, dialect, clock } = deps;
  const log = deps.log ?? silent;
  const keep = deps.keepRuns ?? KEEP_RUNS;
  const runner = `${os.hostname()}:${process.pid}`;
  const jobs = new Map<string, RegisteredJob>();
  /** The run of each job going in this process. */
  const running = new Map<string, Promise<JobResult>>();
  let tasks: ScheduledTask[] = [];
  let stopped = false;

  const find = (name: string): RegisteredJob => {
    const job = jobs.get(name);
    if (!job) throw new NotFoundError(`There is no job called ${name}.`);
    return job;
  };

  /** The body of one run, while this process holds the job. `claimed` hears whether it started. */
  async function runHeld(lockDb: Db, job: RegisteredJob, trigger: JobTrigger, tick: number | null, claimed: (ok: boolean) => void): Promise<JobResult> {
    const startedAt = clock.now();
    const orphans = await markInterrupted(lockDb, job.name);
    if (orphans > 0) log.warn({ job: job.name, runs: orphans }, 'job runs of a process that stopped are marked interrupted');
    const runId = await insertRun(lockDb, { job: job.name, trigger, scheduledFor: tick, runner, startedAt });
    if (runId === undefined) {
      claimed(false);
      return { outcome: 'skipped', reason: 'ran-elsewhere' };
    }
    claimed(true);
    let error: string | null = null;
    let thrown: unknown;
    let idle = false;
    try {
      idle = (await job.run({ now: startedAt, trigger })) === 'idle';
    } catch (err) {
      thrown = err;
      error = describeError(err);
      log.error({ err, job: job.name }, 'job failed');
    }
    const finishedAt = clock.now();
    const status = error !== null ? 'error' : idle ? 'idle' : 'ok';
    await finishRun(lockDb, runId, { status, finishedAt, durationMs: finishedAt - startedAt, error });
    if (idle) await pruneIdleRuns(lockDb, job.name, runId);
    await pruneRuns(lockDb, job.name, keep);
    deps.onRunFinished?.({ job: job.name, status, durationMs: finishedAt - startedAt, ...(error !== null ? { error: thrown } : {}) });
    return error === null ? { outcome: 'ok', runId } : { outcome: 'error', runId, error };
  }

  /**
   * One run of `job`, unless one is going. `claimed` hears once whether the run started, before its work,
   * unless recording the run fails first (then the returned promise rejects).
   */
  function execute(job: RegisteredJob, trigger: JobTrigger, tick: number | null, claimed: (ok: boolean) => void = () => {}): Promise<JobResult> {
    if (stopped || running.has(job.name)) {
      claimed(false);
      return Promise.resolve({ outcome: 'skipped', reason: stopped ? 'stopped' : 'running' });
    }
    let heard = false;
    const hear = (ok: boolean) => {
      if (!heard) claimed(ok);
      heard = true;
    };
    const run = withJobLock(db, dialect, job.name, (lockDb) => runHeld(lockDb, job, trigger, tick, hear))
      .then((result): JobResult => {
        hear(false);
        return result ?? { outcome: 'skipped', reason: 'locked' };
      })
      .finally(() => running.delete(job.name));
    running.set(job.name, run);
    return run;
  }

  /** A tick from node-cron: never rejects, since nobody awaits it. */
  function onTick(job: RegisteredJob, tick: number): void {
    execute(job, 'schedule', tick).then(
      (result) => {
        if (result.outcome === 'skipped' && result.reason === 'running') log.info({ job: job.name }, 'job still running: this tick is skipped');
      },
      (err: unknown) => log.error({ err, job: job.name }, 'job run could not be recorded'),
    );
  }

  async function idle(): Promise<void> {
    while (running.size > 0) await Promise.allSettled([...running.values()]);
  }

  return {
    register(definition) {
      if (jobs.has(definition.name)) throw new Error(`a job called ${definition.name} is already registered`);
      jobs.set(definition.name, { ...definition, parsed: parseSchedule(definition.schedule) });
    },

    jobs: () => [...jobs.values()],

    nextRun: (name, now) => nextRunAfter(find(name).parsed, now),

    runOnce: async (name) => execute(find(name), 'manual', null),

    trigger(name) {
      return new Promise<boolean>((resolve, reject) => {
        execute(find(name), 'manual', null, resolve).catch((err: unknown) => {
          log.error({ err, job: name }, 'job run could not be recorded');
          reject(err as Error);
        });
      });
    },

    async runDue(now) {
      const tick = Math.floor(now / 1000) * 1000;
      const due = [...jobs.values()].filter((job) => isTick(job.parsed, tick));
      const results = await Promise.all(due.map((job) => execute(job, 'schedule', tick)));
      return new Map(due.map((job, i) => [job.name, results[i]!]));
    },

    start() {
      if (tasks.length > 0 || stopped) return;
      const cronLog = {
        info: () => {},
        debug: () => {},
        warn: (message: string) => log.warn({ scheduler: 'node-cron' }, message),
        error: (message: string | Error) => log.error({ scheduler: 'node-cron', err: message }, 'scheduler error'),
      };
      tasks = [...jobs.values()].map((job) =>
        cron.schedule(job.schedule, (ctx) => onTick(job, ctx.date.getTime()), {
          name: `gazette:${job.name}`,
          timezone: SCHEDULE_TIME_ZONE,
          missedExecutionTolerance: LATE_TICK_TOLERANCE_MS,
          suppressMissedWarning: true,
          logger: cronLog,
        }),
      );
    },

    async stop() {
      stopped = true;
      const stopping = tasks;
      tasks = [];
      await Promise.all(stopping.map((task) => task.destroy()));
      await idle();
    },

    idle,
  };
}
