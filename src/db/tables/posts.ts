import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export type AudienceTier = 'everyone' | 'free' | 'paid';

export type PostStatus = 'draft' | 'scheduled' | 'sending' | 'paused' | 'sent' | 'cancelled';

export interface PostsTable {
  id: Generated<number>;
  newsletter_id: number;
  slug: string;
  subject: Generated<string>;
  preheader: Generated<string>;
  /** Markdown. */
  body: Generated<string>;
  status: Generated<PostStatus>;
  /** JSON: { includeTags?: number[]; excludeTags?: number[] }. */
  audience: Generated<string>;
  /** Who of the audience gets it by plan: everyone, only readers without paid access, or only paying ones. */
  audience_tier: Generated<AudienceTier>;
  scheduled_at: number | null;
  held_reason: string | null;
  audience_frozen_at: number | null;
  started_at: number | null;
  sent_at: number | null;
  paused_reason: string | null;
  resume_at: number | null;
  relay_failures: Generated<number>;
  created_at: number;
  updated_at: number;
}

export type PostRow = Selectable<PostsTable>;
export type NewPostRow = Insertable<PostsTable>;
export type PostUpdate = Updateable<PostsTable>;

export type DeliveryStatus =
  | 'queued'
  | 'claimed'
  | 'attempting'
  | 'sent'
  | 'retry'
  | 'failed'
  | 'unknown'
  | 'skipped'
  | 'cancelled';

export interface DeliveriesTable {
  id: Generated<number>;
  post_id: number;
  subscriber_id: number | null;
  email: string;
  message_id: string;
  status: Generated<DeliveryStatus>;
  attempts: Generated<number>;
  next_attempt_at: Generated<number>;
  claimed_by: string | null;
  claimed_at: number | null;
  attempted_at: number | null;
  sent_at: number | null;
  response: string | null;
  /** The relay's own id for the message, read from its answer (see lib/relay-id.ts). */
  relay_id: Generated<string | null>;
  error: string | null;
  updated_at: number;
}

export type DeliveryRow = Selectable<DeliveriesTable>;

export interface LeasesTable {
  name: string;
  owner: string;
  expires_at: number;
}
