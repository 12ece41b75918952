import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/database.js';
import type { WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow } from '../../db/tables/webhooks.js';
import type { Clock } from '../../lib/clock.js';
import { ConflictError, NotFoundError } from '../../lib/errors.js';
import type { SafeFetch } from '../../lib/safe-fetch/safe-fetch.js';
import { enqueueMail, type MailOutbox } from '../../sending/mail-outbox.js';
import { deliverDue } from './deliver.js';
import { parseEventTypes, type WebhookEventType } from './events.js';
import { fanOut } from './fanout.js';
import { testPayload } from './payload.js';
import * as repo from './repository.js';
import { newWebhookSecret } from './signing.js';

/** After a rotation the old secret keeps signing this long, so the receiver can switch over. */
export const ROTATION_OVERLAP_MS = 24 * 3600_000;
/** Settled deliveries (and their attempt logs) are kept this long. */
export const KEEP_DELIVERIES_MS = 30 * 24 * 3600_000;

export interface EndpointInput {
  url: string;
  description: string;
  eventTypes: WebhookEventType[];
}

export interface EndpointView extends WebhookEndpointRow {
  eventTypeList: WebhookEventType[];
  open: number;
}

export interface WebhookServiceDeps {
  db: Db;
  clock: Clock;
  fetch: SafeFetch;
  userAgent: string;
  mailFrom: string;
  mailOutbox?: MailOutbox;
}

export type WebhookService = ReturnType<typeof createWebhookService>;

export function createWebhookService(deps: WebhookServiceDeps) {
  const { db, clock } = deps;

  const need = async (id: number): Promise<WebhookEndpointRow> => {
    const endpoint = await repo.findEndpoint(db, id);
    if (!endpoint) throw new NotFoundError('That webhook endpoint does not exist.');
    return endpoint;
  };

  /** The owner hears when an endpoint is switched off: nothing else would tell them events stopped. */
  async function onDisabled(endpoint: WebhookEndpointRow, reason: string): Promise<void> {
    const to = await repo.ownerEmail(db);
    if (!to || !deps.mailOutbox) return;
    await enqueueMail(db, {
      kind: 'webhook_disabled',
      mail: {
        from: deps.mailFrom,
        to,
        subject: 'A webhook endpoint was switched off',
        text: `Gazette stopped sending events to ${endpoint.url}.\n\nWhy: ${reason}\n\nEvents are kept while it is off. Fix the endpoint, then switch it on again on the Webhooks page; what it missed is sent then, in order.\n`,
      },
      now: clock.now(),
    });
    deps.mailOutbox.kick();
  }

  return {
    async list(): Promise<EndpointView[]> {
      const [rows, open] = await Promise.all([repo.listEndpoints(db), repo.openCounts(db)]);
      return rows.map((r) => ({ ...r, eventTypeList: parseEventTypes(r.event_types), open: open.get(r.id) ?? 0 }));
    },

    /** Returns the endpoint and its secret, which is shown this once. */
    async create(input: EndpointInput): Promise<{ endpoint: WebhookEndpointRow; secret: string }> {
      const secret = newWebhookSecret();
      const endpoint = await repo.insertEndpoint(db, { url: input.url, description: input.description, eventTypes: JSON.stringify(input.eventTypes), secret, at: clock.now() });
      return { endpoint, secret };
    },

    async get(id: number): Promise<{ endpoint: EndpointView; deliveries: WebhookDeliveryRow[]; attempts: WebhookAttemptRow[] }> {
      const endpoint = await need(id);
      const [deliveries, attempts, open] = await Promise.all([repo.recentDeliveries(db, id, 50), repo.recentAttempts(db, id, 50), repo.openCounts(db)]);
      return { endpoint: { ...endpoint, eventTypeList: parseEventTypes(endpoint.event_types), open: open.get(id) ?? 0 }, deliveries, attempts };
    },

    async update(id: number, input: EndpointInput): Promise<void> {
      await need(id);
      await repo.updateEndpoint(db, id, { url: input.url, description: input.description, eventTypes: JSON.stringify(input.eventTypes), at: clock.now() });
    },

    async remove(id: number): Promise<void> {
      if (!(await repo.deleteEndpoint(db, id))) throw new NotFoundError('That webhook endpoint does not exist.');
    },

    async enable(id: number): Promise<void> {
      await need(id);
      if (!(await repo.enableEndpoint(db, id, clock.now()))) throw new ConflictError('That endpoint is on already.');
    },

    async disable(id: number): Promise<void> {
      await need(id);
      if (!(await repo.disableEndpoint(db, id, 'Switched off by hand.', clock.now()))) throw new ConflictError('That endpoint is off already.');
    },

    /** A new secret, shown once; the old one keeps signing for ROTATION_OVERLAP_MS. */
    async rotate(id: number): Promise<string> {
      await need(id);
      const secret = newWebhookSecret();
      await repo.rotateSecret(db, id, secret, clock.now() + ROTATION_OVERLAP_MS, clock.now());
      return secret;
    },

    /** Queues a test event at the end of the endpoint's queue, so it also shows whether the queue moves. */
    async sendTest(id: number): Promise<void> {
      await need(id);
      const now = clock.now();
      await repo.insertDeliveries(db, [{ endpointId: id, eventId: null, msgId: `msg_test_${randomBytes(9).toString('base64url')}`, eventType: 'test', payload: testPayload(now), at: now }]);
    },

    async replay(id: number, deliveryId: number): Promise<void> {
      await need(id);
      if (!(await repo.replayDelivery(db, id, deliveryId, clock.now()))) throw new ConflictError('Only a delivered or failed event can be sent again.');
    },

    /** One pass of the "webhooks" job: new events become deliveries, due deliveries are attempted. */
    async runOnce(): Promise<{ queued: number; attempts: number }> {
      const now = clock.now();
      const queued = await fanOut(db, now);
      const attempts = await deliverDue({ db, clock, fetch: deps.fetch, userAgent: deps.userAgent, onDisabled });
      await repo.pruneDeliveries(db, now - KEEP_DELIVERIES_MS);
      return { queued, attempts };
    },
  };
}
