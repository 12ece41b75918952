import type { Db } from '../../db/database.js';
import type { WebhookDeliveryRow, WebhookEndpointRow } from '../../db/tables/webhooks.js';
import type { Clock } from '../../lib/clock.js';
import { SafeFetchError, type SafeFetch } from '../../lib/safe-fetch/safe-fetch.js';
import { webhookHeaders } from './signing.js';
import { activeEndpoints, claimDelivery, countFailure, disableEndpoint, headDelivery, insertAttempt, resetFailures, settleDelivery } from './repository.js';

/**
 * Sends what each endpoint is owed, oldest first, one at a time per endpoint, so a receiver sees a
 * subscriber's events in the order they happened even after it was down. A failed attempt is retried on
 * the Standard Webhooks schedule (about a day in all); the queue behind it waits.
 */

/** Delay before attempt n+1 after attempt n failed (attempt 1 goes at once). */
export const RETRY_DELAYS_MS = [5_000, 5 * 60_000, 30 * 60_000, 2 * 3600_000, 5 * 3600_000, 10 * 3600_000, 10 * 3600_000];
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;
/** Failed attempts in a row after which an endpoint is switched off until the writer switches it on. */
export const DISABLE_AFTER_FAILURES = 20;
/** An attempt's lease: longer than the request's own deadline, so only a dead process lets it lapse. */
export const LEASE_MS = 60_000;
const PER_ENDPOINT_PER_PASS = 100;

export interface DeliverDeps {
  db: Db;
  clock: Clock;
  fetch: SafeFetch;
  userAgent: string;
  /** Told when an endpoint is switched off by repeated failure (the owner is mailed). */
  onDisabled?: (endpoint: WebhookEndpointRow, reason: string) => Promise<void>;
}

interface AttemptResult {
  ok: boolean;
  status: number | null;
  error: string | null;
  excerpt: string;
  gone: boolean;
}

function secretsOf(endpoint: WebhookEndpointRow, now: number): string[] {
  const previous = endpoint.previous_secret && (endpoint.previous_secret_expires_at ?? 0) > now ? [endpoint.previous_secret] : [];
  return [endpoint.secret, ...previous];
}

async function attempt(deps: DeliverDeps, endpoint: WebhookEndpointRow, d: WebhookDeliveryRow, now: number): Promise<AttemptResult> {
  const headers = {
    'content-type': 'application/json',
    'user-agent': deps.userAgent,
    ...webhookHeaders(secretsOf(endpoint, now), d.msg_id, Math.floor(now / 1000), d.payload),
  };
  try {
    const res = await deps.fetch(endpoint.url, { method: 'POST', headers, body: d.payload, followRedirects: false, maxBodyBytes: 1024 });
    const excerpt = res.body.toString('utf8').replace(/\s+/g, ' ').slice(0, 500);
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, error: null, excerpt, gone: false };
    const error = res.status >= 300 && res.status < 400 ? `answered ${res.status} (redirects are not followed)` : `answered ${res.status}`;
    return { ok: false, status: res.status, error, excerpt, gone: res.status === 410 };
  } catch (err) {
    const message = err instanceof SafeFetchError ? `${err.code}: ${err.message}` : (err as Error).message;
    return { ok: false, status: null, error: message.slice(0, 500), excerpt: '', gone: false };
  }
}

/**
 * One attempt of the endpoint's head delivery. 'idle': nothing due; 'next': the queue may go on (the head
 * was delivered, or given up on); 'wait': the head waits for its retry, and the queue with it.
 */
async function sendHead(deps: DeliverDeps, endpoint: WebhookEndpointRow): Promise<'idle' | 'next' | 'wait'> {
  const { db, clock } = deps;
  const head = await headDelivery(db, endpoint.id);
  if (!head) return 'idle';
  const claimed = await claimDelivery(db, head.id, clock.now(), LEASE_MS);
  if (!claimed) return 'idle';
  const started = clock.now();
  const result = await attempt(deps, endpoint, claimed, started);
  const now = clock.now();
  await insertAttempt(db, { deliveryId: claimed.id, endpointId: endpoint.id, at: started, statusCode: result.status, durationMs: now - started, excerpt: result.excerpt, error: result.error });
  if (result.ok) {
    await settleDelivery(db, claimed.id, { status: 'delivered', lastStatus: result.status, lastError: null, at: now });
    await resetFailures(db, endpoint.id);
    return 'next';
  }
  const outOfAttempts = result.gone || claimed.attempts >= MAX_ATTEMPTS;
  await settleDelivery(db, claimed.id, {
    status: outOfAttempts ? 'failed' : 'pending',
    nextAttemptAt: now + (RETRY_DELAYS_MS[claimed.attempts - 1] ?? 0),
    lastStatus: result.status,
    lastError: result.error,
    at: now,
  });
  const failures = await countFailure(db, endpoint.id);
  const reason = result.gone
    ? 'The endpoint answered 410 Gone, which asks senders to stop.'
    : failures >= DISABLE_AFTER_FAILURES
      ? `${failures} attempts in a row failed (last: ${result.error ?? 'no answer'}).`
      : undefined;
  if (reason && (await disableEndpoint(db, endpoint.id, reason, now))) await deps.onDisabled?.(endpoint, reason);
  // A delivery given up on lets the queue behind it go on; a retry waits for its time.
  return outOfAttempts && !result.gone ? 'next' : 'wait';
}

/** One pass over every active endpoint; returns how many attempts were made. */
export async function deliverDue(deps: DeliverDeps): Promise<number> {
  let attempts = 0;
  const drain = async (endpoint: WebhookEndpointRow) => {
    for (let i = 0; i < PER_ENDPOINT_PER_PASS; i++) {
      const step = await sendHead(deps, endpoint);
      if (step === 'idle') return;
      attempts++;
      if (step === 'wait') return;
    }
  };
  await Promise.all((await activeEndpoints(deps.db)).map(drain));
  return attempts;
}
