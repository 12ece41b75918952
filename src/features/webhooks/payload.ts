import type { EventRow } from '../../db/tables/subscribers.js';
import type { WebhookEventType } from './events.js';
import type { SubscriberFacts } from './repository.js';

/**
 * The JSON body of a webhook: `{ type, timestamp, data }` as Standard Webhooks suggests. It describes the
 * subscriber, newsletter and post as they are when the event is fanned out (a few seconds after it
 * happened); a subscriber wiped since (GDPR) appears as null.
 */

export interface PayloadContext {
  subscribers: Map<number, SubscriberFacts & { tags: string[]; statuses: Map<number, string> }>;
  newsletters: Map<number, { id: number; slug: string; name: string }>;
  posts: Map<number, { id: number; newsletter_id: number; slug: string; subject: string; status: string; scheduled_at: number | null; sent_at: number | null }>;
}

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** Keys of an event's own data that are about the visitor rather than the event: never sent on. */
const PRIVATE_KEYS = new Set(['ip', 'user_agent', 'userAgent']);

function details(data: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(data);
    if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
    return Object.fromEntries(Object.entries(value).filter(([k]) => !PRIVATE_KEYS.has(k)));
  } catch {
    return {};
  }
}

export function webhookPayload(type: WebhookEventType, event: EventRow, ctx: PayloadContext): string {
  const newsletter = event.newsletter_id === null ? undefined : ctx.newsletters.get(event.newsletter_id);
  const data: Record<string, unknown> = {
    event_id: event.id,
    newsletter: newsletter ? { id: newsletter.id, slug: newsletter.slug, name: newsletter.name } : null,
  };
  if (type.startsWith('subscriber.')) {
    const s = event.subscriber_id === null ? undefined : ctx.subscribers.get(event.subscriber_id);
    data.subscriber = s
      ? {
          id: s.id,
          email: s.email,
          name: s.name,
          created_at: iso(s.created_at),
          status: event.newsletter_id === null ? null : (s.statuses.get(event.newsletter_id) ?? null),
          tags: s.tags,
        }
      : null;
  }
  if (type.startsWith('post.')) {
    const p = event.post_id === null ? undefined : ctx.posts.get(event.post_id);
    data.post = p ? { id: p.id, slug: p.slug, subject: p.subject, status: p.status, scheduled_at: iso(p.scheduled_at), sent_at: iso(p.sent_at) } : null;
  }
  data.details = details(event.data);
  return JSON.stringify({ type, timestamp: iso(event.created_at), data });
}

export function testPayload(at: number): string {
  return JSON.stringify({ type: 'test', timestamp: iso(at), data: { message: 'A test event from Gazette. If you can read this, the endpoint works.' } });
}
