import { z } from 'zod';
import type { SubscriptionStatus } from '../../db/tables/subscribers.js';
import { ValidationError } from '../../lib/errors.js';
import { optionalIdField } from '../../lib/params.js';

/**
 * The list's filter, shared by the page, the export and the bulk actions so that "apply to the whole
 * filter" means exactly the rows the writer is looking at. Sort columns come from an allowlist (C6).
 */
export const SORTS = { newest: 'Newest first', oldest: 'Oldest first', email: 'Email A–Z' } as const;
export type Sort = keyof typeof SORTS;
export const STATUSES: SubscriptionStatus[] = ['active', 'pending', 'unsubscribed'];

export interface SubscriberFilter {
  q: string;
  newsletterId: number | null;
  status: SubscriptionStatus | null;
  tagId: number | null;
  sort: Sort;
}

const optionalId = (label: string) => optionalIdField(`Choose a ${label} from the list.`);

const filterSchema = z.object({
  q: z.string().trim().max(200, 'Search for at most 200 characters.').optional().transform((v) => v ?? ''),
  newsletter: optionalId('newsletter'),
  status: z
    .union([z.literal(''), z.enum(['active', 'pending', 'unsubscribed'], { error: 'Choose a status from the list.' })])
    .optional()
    .transform((v) => (v ? v : null)),
  tag: optionalId('tag'),
  sort: z
    .union([z.literal(''), z.enum(['newest', 'oldest', 'email'], { error: 'Choose a sort order from the list.' })])
    .optional()
    .transform((v): Sort => (v ? v : 'newest')),
});

/** Parses the filter from a query string or form body; unknown values are a 422, never a guess. */
export function parseFilter(input: unknown): SubscriberFilter {
  const raw = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>;
  const picked: Record<string, unknown> = {};
  for (const key of ['q', 'newsletter', 'status', 'tag', 'sort']) {
    const v = raw[key];
    picked[key] = Array.isArray(v) ? v[0] : v;
  }
  const result = filterSchema.safeParse(picked);
  if (!result.success) {
    const fields: Record<string, string> = {};
    for (const issue of result.error.issues) fields[String(issue.path[0] ?? '_form')] ??= issue.message;
    throw new ValidationError(fields, 'That filter is not valid.');
  }
  const f = result.data;
  return { q: f.q, newsletterId: f.newsletter, status: f.status, tagId: f.tag, sort: f.sort };
}

/** The filter as query parameters (empty ones left out), for links, redirects and hidden fields. */
export function filterParams(f: SubscriberFilter): Record<string, string> {
  const out: Record<string, string> = {};
  if (f.q) out.q = f.q;
  if (f.newsletterId) out.newsletter = String(f.newsletterId);
  if (f.status) out.status = f.status;
  if (f.tagId) out.tag = String(f.tagId);
  if (f.sort !== 'newest') out.sort = f.sort;
  return out;
}

export function filterQueryString(f: SubscriberFilter, extra: Record<string, string> = {}): string {
  const qs = new URLSearchParams({ ...filterParams(f), ...extra }).toString();
  return qs ? `?${qs}` : '';
}
