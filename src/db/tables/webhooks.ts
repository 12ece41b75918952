import type { Generated, Selectable } from 'kysely';

export type WebhookEndpointStatus = 'active' | 'disabled';

/** A writer's endpoint for outgoing webhooks (src/features/webhooks). */
export interface WebhookEndpointsTable {
  id: Generated<number>;
  url: string;
  description: Generated<string>;
  /** JSON array of event types. */
  event_types: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: number | null;
  status: WebhookEndpointStatus;
  disabled_reason: string | null;
  consecutive_failures: Generated<number>;
  created_at: number;
  updated_at: number;
}

/**
 * pending → delivering (an attempt holds its lease) → delivered | pending (retry due later) | failed (out of
 * attempts, or the endpoint answered 410); a lapsed lease makes `delivering` due again.
 */
export type WebhookDeliveryStatus = 'pending' | 'delivering' | 'delivered' | 'failed';

export interface WebhookDeliveriesTable {
  id: Generated<number>;
  endpoint_id: number;
  event_id: number | null;
  msg_id: string;
  event_type: string;
  payload: string;
  status: WebhookDeliveryStatus;
  attempts: Generated<number>;
  next_attempt_at: number;
  lease_until: number | null;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

export interface WebhookAttemptsTable {
  id: Generated<number>;
  delivery_id: number;
  endpoint_id: number;
  at: number;
  status_code: number | null;
  duration_ms: number;
  response_excerpt: Generated<string>;
  error: string | null;
}

export type WebhookEndpointRow = Selectable<WebhookEndpointsTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;
export type WebhookAttemptRow = Selectable<WebhookAttemptsTable>;
