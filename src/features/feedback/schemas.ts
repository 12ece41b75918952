import { z } from 'zod';
import { pathId } from '../../lib/params.js';
import { queryChoice, queryId, queryText } from '../../lib/query.js';
import { email } from '../subscribers/schemas.js';

export const KINDS = ['hard_bounce', 'soft_bounce', 'complaint', 'unsubscribe'] as const;
export const REASONS = ['bounced', 'complained', 'blocked'] as const;
export const KIND_LABELS: Record<(typeof KINDS)[number], string> = {
  hard_bounce: 'Hard bounce',
  soft_bounce: 'Soft bounce',
  complaint: 'Complaint',
  unsubscribe: 'Unsubscribe request',
};

/** The search box and filters of the Suppressions page; a value edited by hand reads as "not given". */
export const suppressionQuery = z.object({
  q: queryText.transform((v) => (v ?? '').trim().slice(0, 200)),
  reason: queryChoice(REASONS).transform((v) => v ?? ''),
  source: queryText.transform((v) => (v && /^[a-z0-9_-]{1,40}$/.test(v) ? v : '')),
  after: queryText,
  removed: queryText,
  blocked: queryText,
});

export type SuppressionQuery = z.infer<typeof suppressionQuery>;

/** Blocking an address by hand. */
export const blockSchema = z.object({
  email,
  detail: z.string().default('').transform((v) => v.replace(/\s+/g, ' ').trim()).pipe(z.string().max(500, 'Use at most 500 characters.')),
});

/** A page cursor: the (created_at, email_hash) of the last row shown. */
export function decodeCursor(value: string | undefined): { createdAt: number; hash: string } | null {
  const m = value ? /^(\d{1,15})\.([0-9a-f]{64})$/.exec(value) : null;
  return m ? { createdAt: Number(m[1]), hash: m[2]! } : null;
}

export const encodeCursor = (c: { createdAt: number; hash: string }) => `${c.createdAt}.${c.hash}`;

const NO_SUPPRESSION = 'That address is not suppressed (any more).';
export const suppressionParams = z.object({
  hash: z.string().refine((v) => /^[0-9a-f]{64}$/.test(v), NO_SUPPRESSION),
});

export const reportQuery = z.object({
  matched: queryChoice(['yes', 'no'] as const),
  kind: queryChoice(KINDS),
  source: queryText.transform((v) => (v && /^[a-z0-9_-]{1,40}$/.test(v) ? v : undefined)),
  post: queryId,
  before: queryId,
});

export const reportParams = z.object({ id: pathId('There is no report with that number.') });
export const postParams = z.object({ id: pathId('There is no post with that number. It may have been deleted.') });
export const policySavedQuery = z.object({ saved: queryText });
