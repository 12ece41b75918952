import { parseJsonObject } from '../../db/codec.js';
import { parseAudience } from '../../sending/audience-repository.js';

/** The JSON shapes of the API's resources. Times are ISO 8601 in UTC. */

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

export interface SubscriberParts {
  subscriptions: Array<{ subscriber_id: number; newsletter_id: number; status: string; created_at: number; confirmed_at: number | null; unsubscribed_at: number | null }>;
  tags: Array<{ subscriber_id: number; id: number; name: string }>;
}

export function subscriberJson(
  s: { id: number; email: string; name: string; attributes: string; source: string; created_at: number; updated_at: number },
  parts: SubscriberParts,
) {
  return {
    id: s.id,
    email: s.email,
    name: s.name,
    attributes: parseJsonObject(s.attributes),
    source: s.source,
    created_at: iso(s.created_at),
    updated_at: iso(s.updated_at),
    subscriptions: parts.subscriptions
      .filter((x) => x.subscriber_id === s.id)
      .map((x) => ({ newsletter_id: x.newsletter_id, status: x.status, created_at: iso(x.created_at), confirmed_at: iso(x.confirmed_at), unsubscribed_at: iso(x.unsubscribed_at) })),
    tags: parts.tags.filter((t) => t.subscriber_id === s.id).map((t) => ({ id: t.id, name: t.name })),
  };
}

export function eventJson(e: { id: number; type: string; subscriber_id: number | null; newsletter_id: number | null; post_id: number | null; data: string; created_at: number }) {
  return { id: e.id, type: e.type, subscriber_id: e.subscriber_id, newsletter_id: e.newsletter_id, post_id: e.post_id, data: parseJsonObject(e.data), created_at: iso(e.created_at) };
}

export function newsletterJson(n: { id: number; slug: string; name: string; description: string; double_opt_in: number; created_at: number }) {
  return { id: n.id, slug: n.slug, name: n.name, description: n.description, double_opt_in: Boolean(n.double_opt_in), created_at: iso(n.created_at) };
}

export const tagJson = (t: { id: number; name: string; created_at: number }) => ({ id: t.id, name: t.name, created_at: iso(t.created_at) });

export function postJson(p: {
  id: number;
  newsletter_id: number;
  slug: string;
  subject: string;
  preheader: string;
  body: string;
  status: string;
  audience: string;
  scheduled_at: number | null;
  held_reason: string | null;
  started_at: number | null;
  sent_at: number | null;
  paused_reason: string | null;
  created_at: number;
  updated_at: number;
}) {
  const audience = parseAudience(p.audience);
  return {
    id: p.id,
    newsletter_id: p.newsletter_id,
    slug: p.slug,
    subject: p.subject,
    preheader: p.preheader,
    body: p.body,
    status: p.status,
    audience: { include_tags: audience.includeTags, exclude_tags: audience.excludeTags },
    scheduled_at: iso(p.scheduled_at),
    held_reason: p.held_reason,
    started_at: iso(p.started_at),
    sent_at: iso(p.sent_at),
    paused_reason: p.paused_reason,
    created_at: iso(p.created_at),
    updated_at: iso(p.updated_at),
  };
}
