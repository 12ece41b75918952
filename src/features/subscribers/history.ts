import { parseJsonObject } from '../../db/codec.js';
import type { EventRow } from '../../db/tables/subscribers.js';

/**
 * A subscriber's event log as sentences a writer reads ("Subscribed to Weekly via the hosted form",
 * "Unsubscribed from Weekly (one-click)", "Tagged vip"). What a sentence does not say is listed as
 * "key: value" details, so nothing recorded is hidden and no raw JSON reaches the page.
 */

export interface HistoryLine {
  at: number;
  text: string;
  /** An import's report, for "Imported into …". */
  href?: string;
  details: Array<{ key: string; value: string }>;
}

type Newsletter = { id: number; name: string };

const SOURCES: Record<string, string> = {
  form: 'the hosted form',
  embed: 'a form embedded on another site',
  api: 'the API',
  admin: 'the admin',
  preferences: 'the preferences page',
  import: 'an import',
};

const UNSUBSCRIBE_SOURCES: Record<string, string> = {
  'one-click': 'one-click',
  page: 'unsubscribe page',
  preferences: 'preferences page',
  admin: 'by you in the admin',
  complaint: 'spam complaint',
};

const DETAIL_NAMES: Record<string, string> = {
  response: 'Answer',
  messageId: 'Message-ID',
  status: 'Status',
  source: 'Source',
};

/** Strings are shown as they are; lists joined; nested objects flattened to "a.b: value". */
function flatten(prefix: string, value: unknown, out: Array<{ key: string; value: string }>): void {
  if (value === null || value === undefined) {
    out.push({ key: prefix, value: '—' });
  } else if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) out.push({ key: prefix, value: value.map((v) => String(v ?? '—')).join(', ') });
    else value.forEach((v, i) => flatten(`${prefix}.${i + 1}`, v, out));
  } else if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) out.push({ key: prefix, value: '—' });
    for (const [k, v] of entries) flatten(`${prefix}.${k}`, v, out);
  } else {
    out.push({ key: prefix, value: String(value) });
  }
}

function details(data: Record<string, unknown>, used: string[]): HistoryLine['details'] {
  const out: HistoryLine['details'] = [];
  for (const [key, value] of Object.entries(data)) {
    if (used.includes(key)) continue;
    flatten(DETAIL_NAMES[key] ?? key, value, out);
  }
  return out;
}

function humanType(type: string): string {
  const words = type.replace(/[_-]+/g, ' ').trim();
  return words ? words.charAt(0).toUpperCase() + words.slice(1) : 'Event';
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** One event as a line. `newsletterName` is undefined when the event names no newsletter. */
export function describeEvent(e: Pick<EventRow, 'type' | 'created_at' | 'newsletter_id' | 'data'>, newsletterName: string | undefined): HistoryLine {
  const data = parseJsonObject(e.data);
  const to = newsletterName ? ` to ${newsletterName}` : '';
  const from = newsletterName ? ` from ${newsletterName}` : '';
  const source = str(data.source);
  const via = source ? ` via ${SOURCES[source] ?? source}` : '';
  const pending = data.status === 'pending' ? ', waiting for confirmation' : '';
  const line = (text: string, used: string[] = [], href?: string): HistoryLine => ({
    at: Number(e.created_at),
    text,
    ...(href ? { href } : {}),
    details: details(data, used),
  });
  // A status the sentence states is consumed; any other status is left for the details.
  const statusUsed = data.status === 'pending' || data.status === 'active' ? ['status'] : [];

  switch (e.type) {
    case 'subscribed':
      return line(`Subscribed${to}${via}${pending}`, ['source', ...statusUsed]);
    case 'resubscribed':
      return line(`Subscribed again${to}${via}${pending}`, ['source', ...statusUsed]);
    case 'confirmation_sent':
      return line(`Confirmation email sent${newsletterName ? ` for ${newsletterName}` : ''}`);
    case 'confirmed':
      return line(`Confirmed the subscription${to}`);
    case 'unsubscribed':
      return line(`Unsubscribed${from}${source ? ` (${UNSUBSCRIBE_SOURCES[source] ?? source})` : ''}`, ['source']);
    case 'preferences_updated':
      return line('Updated their preferences');
    case 'tagged':
      return str(data.tag) ? line(`Tagged ${data.tag as string}`, ['tag']) : line('Tagged');
    case 'untagged':
      return str(data.tag) ? line(`Tag ${data.tag as string} removed`, ['tag']) : line('Tag removed');
    case 'edited': {
      const fields = Array.isArray(data.fields) ? data.fields.filter((f): f is string => typeof f === 'string') : [];
      if (fields.length === 0) return line('Details edited');
      const names = fields.map((f) => (f === 'attributes' ? 'custom attributes' : f));
      return line(`Edited ${names.join(' and ')}`, ['fields']);
    }
    case 'imported': {
      const id = str(data.import);
      const href = id && /^[A-Za-z0-9_-]{1,64}$/.test(id) ? `/admin/subscribers/import/${id}` : undefined;
      return line(`Imported${newsletterName ? ` into ${newsletterName}` : ''}${data.status === 'pending' ? ', waiting for confirmation' : ''}`, ['import', ...statusUsed], href);
    }
    case 'bounced':
      // Soft bounces (a full mailbox) count towards the bounce policy; hard ones suppress at once.
      if (data.kind === 'soft') return line(`A post${newsletterName ? ` of ${newsletterName}` : ''} bounced for now (soft bounce)`, ['kind']);
      return line(`A post${newsletterName ? ` of ${newsletterName}` : ''} bounced: the address is suppressed`, data.kind === 'hard' ? ['kind'] : []);
    case 'suppressed':
      return line(`Blocked: added to the suppression list${str(data.by) ? ` by ${data.by as string}` : ''}`, ['by', 'reason', 'source']);
    case 'unsuppressed':
      return line(`Removed from the suppression list${str(data.by) ? ` by ${data.by as string}` : ''}`, ['by']);
    case 'complained':
      return line(`Reported a post${newsletterName ? ` of ${newsletterName}` : ''} as spam`);
    case 'sent':
      return line(`A post${newsletterName ? ` of ${newsletterName}` : ''} was sent to them`);
    case 'failed':
      return line(`A post${newsletterName ? ` of ${newsletterName}` : ''} could not be delivered`);
    default:
      return line(`${humanType(e.type)}${newsletterName ? ` · ${newsletterName}` : ''}`);
  }
}

/** The whole history, newest first as the log is read; an event of a deleted newsletter says so. */
export function describeEvents(events: EventRow[], newsletters: Newsletter[]): HistoryLine[] {
  const names = new Map(newsletters.map((n) => [n.id, n.name]));
  return events.map((e) => describeEvent(e, e.newsletter_id === null ? undefined : (names.get(e.newsletter_id) ?? 'a deleted newsletter')));
}
