import type { WebhookAttemptRow, WebhookDeliveryRow } from '../../db/tables/webhooks.js';
import { MAX_ATTEMPTS } from './deliver.js';
import type { EndpointView } from './service.js';

/** What the Webhooks pages show of endpoints, deliveries and attempts. */

const utc = (ms: number) => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)} UTC`;

export function endpointRow(e: EndpointView) {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    eventTypes: e.eventTypeList,
    active: e.status === 'active',
    statusLabel: e.status === 'active' ? 'On' : 'Off',
    disabledReason: e.disabled_reason,
    failures: e.consecutive_failures,
    open: e.open,
  };
}

const STATUS_LABELS: Record<WebhookDeliveryRow['status'], string> = {
  pending: 'Waiting',
  delivering: 'Sending',
  delivered: 'Delivered',
  failed: 'Given up',
};

export function deliveryView(d: WebhookDeliveryRow) {
  const retrying = d.status === 'pending' && d.attempts > 0;
  return {
    id: d.id,
    msgId: d.msg_id,
    type: d.event_type,
    status: d.status,
    statusLabel: retrying ? `Retrying (attempt ${d.attempts + 1} of ${MAX_ATTEMPTS} at ${utc(d.next_attempt_at)})` : STATUS_LABELS[d.status],
    attempts: d.attempts,
    lastError: d.last_error,
    created: utc(d.created_at),
    createdIso: new Date(d.created_at).toISOString(),
    canReplay: d.status === 'delivered' || d.status === 'failed',
    payload: d.payload,
  };
}

export function attemptView(a: WebhookAttemptRow) {
  return {
    deliveryId: a.delivery_id,
    at: utc(a.at),
    iso: new Date(a.at).toISOString(),
    ok: a.status_code !== null && a.status_code >= 200 && a.status_code < 300,
    status: a.status_code === null ? 'no answer' : String(a.status_code),
    duration: `${a.duration_ms} ms`,
    excerpt: a.response_excerpt,
    error: a.error,
  };
}
