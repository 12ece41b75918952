import type { Db } from '../../db/database.js';
import type { ErrorSource } from '../../db/tables/error-reports.js';
import type { Clock } from '../../lib/clock.js';
import { redactText } from '../../lib/redact.js';
import { insertErrorReport, pruneErrorReports } from './repository.js';
import type { SentryForwarder } from './sentry.js';

/**
 * Where the server's errors go: redacted into `error_reports` (the latest KEEP_REPORTS, for the admin's
 * Errors page) and, when SENTRY_DSN is set, to Sentry. Reporting never throws and never blocks the caller:
 * an error while reporting an error is logged and dropped.
 */

export interface ErrorContext {
  source: ErrorSource;
  requestId?: string;
  method?: string;
  /** The route template, never the URL. */
  route?: string;
  status?: number;
  job?: string;
}

export interface ErrorReporter {
  report(err: unknown, context: ErrorContext): void;
  /** Resolves once the reports made so far are written and sent (Sentry: at most `timeoutMs`). */
  flush(timeoutMs?: number): Promise<void>;
}

export interface ReporterLog {
  warn(obj: object, msg?: string): void;
}

export const KEEP_REPORTS = 50;
/** At most this many reports are written per minute: a failure on every request must not become a write storm. */
const WRITES_PER_MINUTE = 60;
const MAX_MESSAGE = 2000;
const MAX_STACK = 8000;

function describe(err: unknown): { type: string; message: string; stack: string | null } {
  if (err instanceof Error) {
    return {
      type: err.name || 'Error',
      message: redactText(err.message || '(no message)').slice(0, MAX_MESSAGE),
      stack: err.stack ? redactText(err.stack).slice(0, MAX_STACK) : null,
    };
  }
  return { type: typeof err, message: redactText(String(err)).slice(0, MAX_MESSAGE), stack: null };
}

export function createErrorReporter(deps: { db: Db; clock: Clock; sentry?: SentryForwarder; log?: ReporterLog; onReport?: (context: ErrorContext) => void }): ErrorReporter {
  const { db, clock } = deps;
  const pending = new Set<Promise<void>>();
  let windowStart = 0;
  let written = 0;
  let dropped = 0;

  function store(err: unknown, context: ErrorContext): void {
    const now = clock.now();
    if (now - windowStart >= 60_000) {
      if (dropped > 0) deps.log?.warn({ dropped }, 'error reports over the limit were not stored');
      windowStart = now;
      written = 0;
      dropped = 0;
    }
    if (written >= WRITES_PER_MINUTE) {
      dropped += 1;
      return;
    }
    written += 1;
    const { type, message, stack } = describe(err);
    const write = (async () => {
      await insertErrorReport(db, {
        occurred_at: now,
        source: context.source,
        request_id: context.requestId ?? null,
        method: context.method ?? null,
        route: context.route ?? null,
        status: context.status ?? null,
        job: context.job ?? null,
        error_type: type.slice(0, 200),
        message,
        stack,
      });
      await pruneErrorReports(db, KEEP_REPORTS);
    })()
      .catch((cause: unknown) => deps.log?.warn({ err: cause }, 'could not store an error report'))
      .finally(() => pending.delete(write));
    pending.add(write);
  }

  return {
    report(err, context) {
      deps.onReport?.(context);
      store(err, context);
      try {
        deps.sentry?.capture(err, context);
      } catch (cause) {
        deps.log?.warn({ err: cause }, 'could not send an error to Sentry');
      }
    },
    async flush(timeoutMs = 2000) {
      await Promise.all([...pending]);
      await deps.sentry?.flush(timeoutMs).catch(() => undefined);
    },
  };
}
