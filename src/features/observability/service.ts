import { createHash, timingSafeEqual } from 'node:crypto';
import type { Db } from '../../db/database.js';
import type { ErrorSource } from '../../db/tables/error-reports.js';
import { formatDuration, formatUtc } from '../jobs/service.js';
import { KEEP_REPORTS } from './error-reporter.js';
import type { Observability } from './observability.js';
import type { ReadinessReport } from './readiness.js';
import { listErrorReports, listFailedJobRuns } from './repository.js';

/** The operator's front doors: /metrics, /readyz and the admin's Errors page. */

export interface ErrorReportView {
  id: number;
  at: string;
  iso: string;
  source: ErrorSource;
  /** What failed, in words: "GET /admin/posts/:id (500)", "job sending-housekeeping", "the process". */
  where: string;
  requestId: string | null;
  type: string;
  message: string;
  stack: string | null;
}

export interface JobFailureView {
  job: string;
  at: string;
  iso: string;
  outcome: string;
  duration: string | null;
}

export interface ObservabilityService {
  /** Whether /metrics is on (METRICS_TOKEN is set). */
  readonly metricsEnabled: boolean;
  /** Whether an Authorization header carries the metrics token. */
  authorizesMetrics(authorization: string | undefined): boolean;
  metrics(): Promise<string>;
  readiness(): Promise<ReadinessReport>;
  errorsPage(): Promise<{ reports: ErrorReportView[]; jobFailures: JobFailureView[] }>;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

function whereOf(row: { source: ErrorSource; method: string | null; route: string | null; status: number | null; job: string | null }): string {
  if (row.source === 'request') return `${row.method ?? ''} ${row.route ?? 'unmatched'}${row.status ? ` (${row.status})` : ''}`.trim();
  if (row.source === 'job') return `job ${row.job ?? ''}`.trim();
  if (row.source === 'background') return 'background work (sending, mail)';
  return 'the server process';
}

export function createObservabilityService(deps: {
  db: Db;
  pingDb: () => Promise<boolean>;
  metricsToken: string | undefined;
  observability: Observability;
}): ObservabilityService {
  const { db, observability } = deps;
  const expected = deps.metricsToken === undefined ? undefined : digest(deps.metricsToken);
  return {
    metricsEnabled: expected !== undefined,
    authorizesMetrics(authorization) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
      return expected !== undefined && match !== null && timingSafeEqual(digest(match[1]!), expected);
    },
    metrics: () => observability.telemetry.scrape(db),
    readiness: () => observability.readiness.check(db, deps.pingDb),
    async errorsPage() {
      const [reports, runs] = await Promise.all([listErrorReports(db, KEEP_REPORTS), listFailedJobRuns(db, 20)]);
      return {
        reports: reports.map((r) => ({
          id: r.id,
          at: formatUtc(r.occurred_at),
          iso: new Date(r.occurred_at).toISOString(),
          source: r.source,
          where: whereOf(r),
          requestId: r.request_id,
          type: r.error_type,
          message: r.message,
          stack: r.stack,
        })),
        jobFailures: runs.map((r) => ({
          job: r.job,
          at: formatUtc(r.started_at),
          iso: new Date(r.started_at).toISOString(),
          outcome: r.status === 'interrupted' ? 'Interrupted: its process stopped during the run' : `Failed: ${r.error ?? 'no message'}`,
          duration: r.duration_ms === null ? null : formatDuration(r.duration_ms),
        })),
      };
    },
  };
}
