import type { LinkOutcome } from '../../db/tables/link-checks.js';
import type { LinkKind } from './extract.js';

/**
 * How each outcome reads to a writer. Only links readers certainly cannot open are "errors" (they make
 * the pre-send checks warn); a site that is down, slow or refusing robots may well work for a person.
 */
export type Severity = 'good' | 'info' | 'warning' | 'error';

export interface OutcomeLabel {
  label: string;
  severity: Severity;
}

export const OUTCOME_LABELS: Record<LinkOutcome, OutcomeLabel> = {
  ok: { label: 'OK', severity: 'good' },
  redirected: { label: 'Redirected', severity: 'good' },
  broken: { label: 'Broken', severity: 'error' },
  dns: { label: 'Domain not found', severity: 'error' },
  unsafe: { label: 'Unsafe target', severity: 'error' },
  'server-error': { label: 'Server error', severity: 'warning' },
  timeout: { label: 'Timed out', severity: 'warning' },
  tls: { label: 'Certificate problem', severity: 'warning' },
  failed: { label: 'Could not check', severity: 'warning' },
  refused: { label: 'Refuses automated checks', severity: 'info' },
};

/** Outcomes that mean readers cannot open the link. */
export const BROKEN_OUTCOMES: LinkOutcome[] = ['broken', 'dns', 'unsafe'];

/** Links that are never fetched, labelled by their kind. */
export const KIND_LABELS: Record<Exclude<LinkKind, 'web'>, OutcomeLabel> = {
  personal: { label: 'Not checked: personal', severity: 'info' },
  contact: { label: 'Valid', severity: 'good' },
  invalid: { label: 'Will not work', severity: 'error' },
};

/** How long a result is trusted: a good answer for an hour, a bad one only briefly (sites come back). */
export function cacheLifetimeMs(outcome: LinkOutcome): number {
  return outcome === 'ok' || outcome === 'redirected' ? 60 * 60_000 : 10 * 60_000;
}
