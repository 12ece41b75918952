import type { Generated, Insertable, Selectable } from 'kysely';

/** request: a 5xx answer; job: a failed job run; background: the send loop or mail outbox; process: a crash. */
export type ErrorSource = 'request' | 'job' | 'background' | 'process';

/** One error of the server, redacted before it is written (src/features/observability/error-reporter.ts). */
export interface ErrorReportsTable {
  id: Generated<number>;
  occurred_at: number;
  source: ErrorSource;
  request_id: string | null;
  method: string | null;
  route: string | null;
  status: number | null;
  job: string | null;
  error_type: string;
  message: string;
  stack: string | null;
}

export type ErrorReportRow = Selectable<ErrorReportsTable>;
export type NewErrorReportRow = Insertable<ErrorReportsTable>;
