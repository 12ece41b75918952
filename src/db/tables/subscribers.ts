import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface SubscribersTable {
  id: Generated<number>;
  /** Trimmed and lower-cased; unique. */
  email: string;
  /** sha256 of `email` (see domain/suppressions.ts); always written together with email. */
  email_hash: string;
  name: Generated<string>;
  /** JSON object of custom attributes (text on both dialects; see db/codec.ts). */
  attributes: Generated<string>;
  token: string;
  source: Generated<string>;
  ip: string | null;
  created_at: number;
  updated_at: number;
}

export type SubscriberRow = Selectable<SubscribersTable>;
export type NewSubscriberRow = Insertable<SubscribersTable>;
export type SubscriberUpdate = Updateable<SubscribersTable>;

export type SubscriptionStatus = 'pending' | 'active' | 'unsubscribed';

export interface SubscriptionsTable {
  id: Generated<number>;
  subscriber_id: number;
  newsletter_id: number;
  status: SubscriptionStatus;
  /** form | embed | api | import | admin */
  source: string;
  consent_ip: string | null;
  confirm_sent_at: number | null;
  created_at: number;
  confirmed_at: number | null;
  unsubscribed_at: number | null;
  /** When the reader allowed per-person open and click tracking; null when they did not or withdrew. */
  tracking_consent_at: number | null;
  /** 1 while a paid subscription gives access to paid posts; written only by src/features/billing. */
  paid_access: Generated<number>;
  updated_at: number;
}

export type SubscriptionRow = Selectable<SubscriptionsTable>;
export type NewSubscriptionRow = Insertable<SubscriptionsTable>;

export interface ConfirmationTokensTable {
  token_hash: string;
  subscription_id: number;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface TagsTable {
  id: Generated<number>;
  name: string;
  created_at: number;
}

export interface SubscriberTagsTable {
  subscriber_id: number;
  tag_id: number;
}

export type SuppressionReason = 'bounced' | 'complained' | 'blocked';

export interface SuppressionsTable {
  /** sha256 of the normalised address. */
  email_hash: string;
  reason: SuppressionReason;
  /** smtp (a 5xx while sending), a relay webhook's name, mailbox, or policy (soft bounces). */
  source: Generated<string>;
  detail: Generated<string>;
  created_at: number;
}

export interface EventsTable {
  id: Generated<number>;
  subscriber_id: number | null;
  newsletter_id: number | null;
  post_id: number | null;
  type: string;
  data: Generated<string>;
  created_at: number;
}

export type EventRow = Selectable<EventsTable>;
