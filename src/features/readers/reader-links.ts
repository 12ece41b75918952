import type { Db } from '../../db/database.js';
import type { SubscriberRow } from '../../db/tables/subscribers.js';
import type { Clock } from '../../lib/clock.js';
import { sha256Hex } from '../../lib/tokens.js';
import type { publicUrls } from '../../lib/urls.js';
import { recordEvent } from '../../domain/events.js';
import type { WelcomeQueue } from '../welcome/queue.js';
import * as repo from './repository.js';

export type ConfirmationState =
  | { state: 'unknown' }
  | { state: 'valid' | 'expired' | 'used' | 'confirmed'; newsletter: { id: number; slug: string; name: string }; preferencesUrl?: string };

/**
 * What a reader does through a link only their inbox received: confirm a subscription, unsubscribe,
 * change their preferences, download their data. The token in the link is the only credential.
 */
interface ReaderLinksDeps {
  db: Db;
  clock: Clock;
  urls: ReturnType<typeof publicUrls>;
  /** The welcome mail, queued in the transaction that confirms; `mailQueued` sends it after the commit. */
  welcome?: WelcomeQueue | undefined;
  mailQueued?: () => void;
}

export function createReaderLinks(deps: ReaderLinksDeps) {
  const { db, clock, urls } = deps;

  /** What a confirmation link points at, without changing anything (GET must never change state). */
  async function inspectConfirmation(token: string): Promise<ConfirmationState> {
    const row = await repo.findConfirmationToken(db, sha256Hex(token));
    if (!row) return { state: 'unknown' };
    const newsletter = { id: row.newsletter_id, slug: row.newsletter_slug, name: row.newsletter_name };
    if (row.used_at !== null) return { state: row.status === 'active' ? 'confirmed' : 'used', newsletter };
    if (row.expires_at <= clock.now()) return { state: 'expired', newsletter };
    return { state: 'valid', newsletter };
  }

  const confirm = (token: string) => confirmToken(deps, token);

  async function subscriberByToken(token: string): Promise<SubscriberRow | undefined> {
    return token.length >= 20 && token.length <= 100 ? repo.findSubscriberByToken(db, token) : undefined;
  }

  /**
   * RFC 8058 one-click and the unsubscribe button. With a newsletter slug, leaves that newsletter;
   * without one, leaves all. Idempotent: unsubscribing twice is the same as once. Returns false for an
   * unknown token.
   */
  async function unsubscribe(token: string, newsletterSlug: string | undefined, source: string): Promise<boolean> {
    const subscriber = await subscriberByToken(token);
    if (!subscriber) return false;
    const now = clock.now();
    await db.transaction().execute(async (trx) => {
      const subscriptions = await repo.listSubscriptions(trx, subscriber.id);
      let targets = subscriptions;
      if (newsletterSlug) {
        const newsletterId = await repo.findNewsletterIdBySlug(trx, newsletterSlug);
        if (newsletterId !== undefined) targets = subscriptions.filter((s) => s.newsletter_id === newsletterId);
      }
      for (const sub of targets) {
        if (await repo.transitionSubscription(trx, sub.id, ['pending', 'active'], 'unsubscribed', now)) {
          await recordEvent(trx, { type: 'unsubscribed', at: now, subscriberId: subscriber.id, newsletterId: sub.newsletter_id, data: { source } });
        }
      }
    });
    return true;
  }

  async function preferences(token: string) {
    const subscriber = await subscriberByToken(token);
    if (!subscriber) return undefined;
    const [subscriptions, newsletters] = await Promise.all([
      repo.listSubscriptions(db, subscriber.id),
      repo.listNewslettersByName(db),
    ]);
    const byNewsletter = new Map(subscriptions.map((s) => [s.newsletter_id, s]));
    // Readers see the newsletters they are on, and the others only if those have a public page.
    const visible = newsletters.filter((n) => byNewsletter.has(n.id) || n.archive_public === 1);
    return {
      subscriber,
      newsletters: visible.map((n) => ({
        id: n.id,
        name: n.name,
        slug: n.slug,
        status: byNewsletter.get(n.id)?.status ?? null,
        tracksReaders: n.tracking_mode === 'subscriber',
        trackingConsent: byNewsletter.get(n.id)?.tracking_consent_at != null,
      })),
    };
  }

  async function updatePreferences(token: string, input: { name: string; newsletterIds: number[]; trackingIds?: number[] }): Promise<boolean> {
    const view = await preferences(token);
    if (!view) return false;
    const { subscriber } = view;
    const wanted = new Set(input.newsletterIds);
    const now = clock.now();
    // Newsletters this form makes active for the reader: each may owe them its welcome.
    const activated: number[] = [];
    let welcomed = 0;
    await db.transaction().execute(async (trx) => {
      if (input.name !== subscriber.name) await repo.updateSubscriberName(trx, subscriber.id, input.name, now);
      for (const n of view.newsletters) {
        const sub = await repo.findSubscription(trx, subscriber.id, n.id);
        if (wanted.has(n.id)) {
          // The reader holds a link only their inbox received, so the address is proven: no second opt-in.
          if (!sub) {
            await repo.insertSubscription(trx, { subscriberId: subscriber.id, newsletterId: n.id, status: 'active', source: 'preferences', ip: null, at: now });
            await recordEvent(trx, { type: 'subscribed', at: now, subscriberId: subscriber.id, newsletterId: n.id, data: { source: 'preferences' } });
            activated.push(n.id);
          } else if (sub.status !== 'active' && (await repo.transitionSubscription(trx, sub.id, ['pending', 'unsubscribed'], 'active', now, { source: 'preferences' }))) {
            await recordEvent(trx, { type: 'resubscribed', at: now, subscriberId: subscriber.id, newsletterId: n.id, data: { source: 'preferences' } });
            activated.push(n.id);
          }
        } else if (sub && (await repo.transitionSubscription(trx, sub.id, ['pending', 'active'], 'unsubscribed', now))) {
          await recordEvent(trx, { type: 'unsubscribed', at: now, subscriberId: subscriber.id, newsletterId: n.id, data: { source: 'preferences' } });
        }
      }
      const allowTracking = new Set(input.trackingIds ?? []);
      for (const n of view.newsletters) {
        // Withdrawn at once, and it applies to mail already sent: later hits are recorded anonymously.
        const allowed = n.tracksReaders && wanted.has(n.id) && allowTracking.has(n.id);
        if (allowed !== n.trackingConsent) await repo.setTrackingConsent(trx, subscriber.id, n.id, allowed ? now : null);
      }
      await recordEvent(trx, { type: 'preferences_updated', at: now, subscriberId: subscriber.id });
      for (const id of activated) welcomed += (await deps.welcome?.queue(trx, id, [subscriber.id], now)) ?? 0;
    });
    if (welcomed > 0) deps.mailQueued?.();
    return true;
  }

  /** Everything we hold about one reader, for "download my data". */
  async function exportData(token: string) {
    const subscriber = await subscriberByToken(token);
    if (!subscriber) return undefined;
    const subscriptions = await repo.listSubscriptionsForExport(db, subscriber.id);
    const events = await repo.listEventsForExport(db, subscriber.id);
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      email: subscriber.email,
      name: subscriber.name,
      attributes: JSON.parse(subscriber.attributes || '{}') as unknown,
      tags: await repo.listTagsOf(db, subscriber.id),
      source: subscriber.source,
      ip: subscriber.ip,
      createdAt: iso(subscriber.created_at),
      subscriptions: subscriptions.map((s) => ({
        newsletter: s.newsletter,
        status: s.status,
        source: s.source,
        consentIp: s.consent_ip,
        createdAt: iso(s.created_at),
        confirmedAt: iso(s.confirmed_at),
        unsubscribedAt: iso(s.unsubscribed_at),
        trackingConsentAt: iso(s.tracking_consent_at),
      })),
      events: events.map((e) => ({ type: e.type, at: iso(e.created_at), data: JSON.parse(e.data || '{}') as unknown })),
      opensAndClicks: (await repo.listHitsForExport(db, subscriber.id)).map((h) => ({ post: h.subject, kind: h.kind, url: h.url, verdict: h.verdict, at: iso(h.created_at) })),
    };
  }

  return { inspectConfirmation, confirm, unsubscribe, preferences, updatePreferences, exportData };
}

/** Confirms a pending subscription by its token; a subscription made active here is welcomed. */
async function confirmToken(deps: ReaderLinksDeps, token: string): Promise<ConfirmationState> {
  const { db, clock, urls } = deps;
  const hash = sha256Hex(token);
  const now = clock.now();
  let welcomed = 0;
  const state = await db.transaction().execute(async (trx) => {
    const row = await repo.findConfirmationToken(trx, hash);
    if (!row) return { state: 'unknown' } as const;
    const newsletter = { id: row.newsletter_id, slug: row.newsletter_slug, name: row.newsletter_name };
    if (!(await repo.useConfirmationToken(trx, hash, now))) {
      if (row.used_at !== null) return { state: row.status === 'active' ? 'confirmed' : 'used', newsletter } as const;
      return { state: 'expired', newsletter } as const;
    }
    if (await repo.transitionSubscription(trx, row.subscription_id, ['pending'], 'active', now)) {
      await recordEvent(trx, { type: 'confirmed', at: now, subscriberId: row.subscriber_id, newsletterId: row.newsletter_id });
      welcomed = (await deps.welcome?.queue(trx, row.newsletter_id, [row.subscriber_id], now)) ?? 0;
    }
    const subscriberToken = await repo.findSubscriberToken(trx, row.subscriber_id);
    return { state: 'confirmed', newsletter, preferencesUrl: subscriberToken ? urls.preferences(subscriberToken) : undefined } as const;
  });
  if (welcomed > 0) deps.mailQueued?.();
  return state;
}
