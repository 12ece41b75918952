import type { EventType } from '../../domain/events.js';

/** What an endpoint can subscribe to. Names follow the `resource.verb` habit of Buttondown and Stripe. */
export const WEBHOOK_EVENT_TYPES = [
  'subscriber.created',
  'subscriber.confirmed',
  'subscriber.updated',
  'subscriber.unsubscribed',
  'subscriber.bounced',
  'subscriber.complained',
  'post.scheduled',
  'post.sent',
  'post.opened',
  'post.clicked',
  'post.engagement',
  'import.finished',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const WEBHOOK_EVENT_LABELS: Record<WebhookEventType, string> = {
  'subscriber.created': 'A subscriber signs up, is added or imported, or subscribes again',
  'subscriber.confirmed': 'A subscriber confirms their address',
  'subscriber.updated': 'A subscriber changes their preferences, or you edit or tag them',
  'subscriber.unsubscribed': 'A subscriber unsubscribes',
  'subscriber.bounced': 'Mail to a subscriber bounces',
  'subscriber.complained': 'A subscriber reports a mail as spam',
  'post.scheduled': 'A post is scheduled',
  'post.sent': 'A post has gone to every recipient',
  'post.opened': 'A reader opens a post for the first time (per-subscriber tracking, readers who consented)',
  'post.clicked': 'A reader clicks a link of a post for the first time (per-subscriber tracking, readers who consented)',
  'post.engagement': 'Each hour: a post’s opens and clicks by readers who are not named (aggregate tracking, or no consent)',
  'import.finished': 'An import finishes',
};

/** The event log's types that become webhooks; everything else in the log (e.g. mail sent) does not. */
const FROM_LOG: Partial<Record<EventType, WebhookEventType>> = {
  subscribed: 'subscriber.created',
  imported: 'subscriber.created',
  resubscribed: 'subscriber.created',
  confirmed: 'subscriber.confirmed',
  preferences_updated: 'subscriber.updated',
  edited: 'subscriber.updated',
  tagged: 'subscriber.updated',
  untagged: 'subscriber.updated',
  unsubscribed: 'subscriber.unsubscribed',
  bounced: 'subscriber.bounced',
  complained: 'subscriber.complained',
  post_scheduled: 'post.scheduled',
  post_sent: 'post.sent',
  import_finished: 'import.finished',
};

export function webhookTypeOf(logType: string): WebhookEventType | undefined {
  return FROM_LOG[logType as EventType];
}

/** The log types that map to any of `types`, for the query that reads the log. */
export function logTypesFor(types: Iterable<WebhookEventType>): EventType[] {
  const wanted = new Set(types);
  return (Object.entries(FROM_LOG) as Array<[EventType, WebhookEventType]>).filter(([, t]) => wanted.has(t)).map(([l]) => l);
}

export function parseEventTypes(json: string): WebhookEventType[] {
  try {
    const value: unknown = JSON.parse(json);
    return Array.isArray(value) ? value.filter((t): t is WebhookEventType => (WEBHOOK_EVENT_TYPES as readonly string[]).includes(t)) : [];
  } catch {
    return [];
  }
}
