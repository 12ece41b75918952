import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { PoolStats } from '../../db/connect.js';
import type { Db, Dialect } from '../../db/database.js';
import type { FinishedRun } from '../../jobs/registry.js';
import type { Clock } from '../../lib/clock.js';
import { PROJECT_ROOT } from '../../lib/paths.js';
import { createErrorReporter, type ErrorReporter, type ReporterLog } from './error-reporter.js';
import { createReadiness, type Readiness } from './readiness.js';
import type { SentryForwarder } from './sentry.js';
import { createTelemetry, type Telemetry } from './telemetry.js';

/**
 * Everything an operator watches the server through, built once by the composition root (server.ts; the
 * app builds a default one when it is not given): metrics, error reports, readiness. The sending engine
 * and the job registry are handed `telemetry.sends` and `jobFinished`.
 */
export interface Observability {
  telemetry: Telemetry;
  errors: ErrorReporter;
  readiness: Readiness;
  /** For the job registry's onRunFinished: counts the run, and reports it when it failed. */
  jobFinished(run: FinishedRun): void;
  /** `log`, whose error lines that carry an `err` are also reported (the send loop's, the mail outbox's). */
  reportingLog<L extends BackgroundLog>(log: L): L;
  close(): void;
}

export interface BackgroundLog {
  error(obj: object, msg?: string): void;
}

export interface ObservabilityDeps {
  db: Db;
  dialect: Dialect;
  clock: Clock;
  poolStats?: () => PoolStats[];
  sentry?: SentryForwarder;
  log?: ReporterLog;
}

export function gazetteVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export function createObservability(deps: ObservabilityDeps): Observability {
  const telemetry = createTelemetry({
    clock: deps.clock,
    dialect: deps.dialect,
    version: gazetteVersion(),
    ...(deps.poolStats ? { poolStats: deps.poolStats } : {}),
  });
  const errors = createErrorReporter({
    db: deps.db,
    clock: deps.clock,
    ...(deps.sentry ? { sentry: deps.sentry } : {}),
    ...(deps.log ? { log: deps.log } : {}),
    onReport: (context) => telemetry.error(context.source),
  });
  return {
    telemetry,
    errors,
    readiness: createReadiness(),
    jobFinished(run) {
      telemetry.jobFinished(run);
      if (run.status === 'error') errors.report(run.error, { source: 'job', job: run.job });
    },
    reportingLog(log) {
      return {
        ...log,
        error(obj: object, msg?: string) {
          log.error(obj, msg);
          const { err } = obj as { err?: unknown };
          if (err !== undefined) errors.report(err, { source: 'background' });
        },
      };
    },
    close: () => telemetry.close(),
  };
}
