import { redactText, redactUrl } from '../../lib/redact.js';

/**
 * Errors to Sentry (or a Sentry-compatible server such as GlitchTip) when SENTRY_DSN is set. The SDK is an
 * optional dependency loaded by a dynamic import here and nowhere else, so without a DSN it is never loaded.
 *
 * Only errors are sent, captured explicitly (5xx requests, failed jobs, crashes): no tracing, no default
 * integrations (they would patch modules and collect breadcrumbs with URLs and console lines), no personal
 * data. `scrubEvent` runs on every event as the last step before it leaves the process.
 */

export interface SentryContext {
  source: string;
  requestId?: string;
  route?: string;
  method?: string;
  status?: number;
  job?: string;
}

export interface SentryForwarder {
  capture(err: unknown, context: SentryContext): void;
  /** Waits (at most `timeoutMs`) until captured events are sent. */
  flush(timeoutMs: number): Promise<void>;
}

export interface SentryOptions {
  dsn: string;
  environment: string;
  release: string;
}

/** Keys whose values are dropped whatever they hold: bodies, headers, cookies and who the user is. */
const DROPPED_KEYS = new Set(['cookies', 'headers', 'data', 'query_string', 'user', 'breadcrumbs', 'extra', 'env', 'vars', 'body']);

function scrubValue(value: unknown, key: string | undefined): unknown {
  if (typeof value === 'string') return key === 'url' ? redactUrl(value) : redactText(value);
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, undefined));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (DROPPED_KEYS.has(k)) continue;
      out[k] = scrubValue(v, k);
    }
    return out;
  }
  return value;
}

/** The event without addresses, tokens, credentials, cookies, headers or bodies (Sentry's `beforeSend`). */
export function scrubEvent<E extends object>(event: E): E {
  return scrubValue(event, undefined) as E;
}

/** Loads and starts the SDK. Throws when the optional dependency is not installed. */
export async function loadSentry(options: SentryOptions): Promise<SentryForwarder> {
  const Sentry = await import('@sentry/node');
  Sentry.init({
    dsn: options.dsn,
    environment: options.environment,
    release: options.release,
    defaultIntegrations: false,
    integrations: [Sentry.linkedErrorsIntegration()],
    enableRuntimeChannelInjection: false,
    // Collect nothing about people or payloads; scrubEvent removes whatever would still come along.
    dataCollection: {
      userInfo: false,
      cookies: false,
      httpHeaders: false,
      httpBodies: [],
      urlQueryParams: false,
      databaseQueryData: false,
      queues: false,
      stackFrameVariables: false,
      frameContextLines: 0,
    },
    sendClientReports: false,
    beforeSend: (event) => scrubEvent(event),
    beforeBreadcrumb: () => null,
  });
  return {
    capture(err, context) {
      const tags: Record<string, string> = { source: context.source };
      if (context.requestId) tags.request_id = context.requestId;
      if (context.route) tags.route = context.route;
      if (context.method) tags.method = context.method;
      if (context.status !== undefined) tags.status = String(context.status);
      if (context.job) tags.job = context.job;
      Sentry.captureException(err, { tags });
    },
    async flush(timeoutMs) {
      await Sentry.flush(timeoutMs);
    },
  };
}
