import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../../config.js';
import type { Db, DbOrTx } from '../../db/database.js';
import { isUniqueViolation } from '../../db/errors.js';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import type { SubscriberRow } from '../../db/tables/subscribers.js';
import type { Clock } from '../../lib/clock.js';
import { normalizeEmail } from '../../lib/email.js';
import { RateLimitedError, ValidationError } from '../../lib/errors.js';
import { RateLimiter } from '../../lib/rate-limiter.js';
import { constantTimeEqual, hmacBase64Url, randomToken, sha256Hex } from '../../lib/tokens.js';
import { publicUrls } from '../../lib/urls.js';
import { enqueueMail, type MailOutbox } from '../../sending/mail-outbox.js';
import { recordEvent } from '../../domain/events.js';
import { senderOf } from '../../domain/sender.js';
import { emailHash, isSuppressed } from '../../domain/suppressions.js';
import { findDefaultNewsletter, findNewsletterByOldSlug, findNewsletterBySlug } from '../newsletters/repository.js';
import { listArchive } from '../posts/repository.js';
import { alreadySubscribedEmail, confirmationEmail } from './emails.js';
import { canonicalAddress } from './names.js';
import { createReaderLinks } from './reader-links.js';
import * as repo from './repository.js';

export const CONFIRM_TOKEN_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** At most one confirmation (or "already subscribed" notice) per subscription per hour. */
export const CONFIRM_RESEND_INTERVAL_MS = 60 * 60 * 1000;
/** A human takes a moment to fill the hosted form; a bot posts at once. */
export const MIN_FILL_MS = 2000;
export const FORM_TOO_QUICK = 'That was quick — please press Subscribe again.';
export const FORM_EXPIRED = 'This form has expired — please press Subscribe again.';

export interface SubscribeInput {
  email: string;
  name: string;
  source: string;
  ip: string;
  /** Filled only by bots (a field hidden from people). */
  honeypot: string;
  /** The hosted form's signed render time; absent for embeds and API clients. */
  formToken: string | undefined;
  /** The post came from our own subscribe page (same origin, not JSON, not an embed): it must carry the token. */
  fromHostedPage: boolean;
  /** The reader ticked the per-subscriber tracking box (kept only when the newsletter tracks per subscriber). */
  trackingConsent?: boolean;
}

export type SubscribeOutcome = 'pending' | 'active' | 'ignored';

export interface ReaderServiceDeps {
  db: Db;
  clock: Clock;
  config: Config;
  mailOutbox: MailOutbox;
  secretKey: string;
  log?: FastifyBaseLogger;
}

export type ReaderService = ReturnType<typeof createReaderService>;

/** Consent to per-person tracking counts only where the newsletter asks for it (the box is shown only then). */
function trackingConsented(newsletter: NewsletterRow, input: SubscribeInput): boolean {
  return newsletter.tracking_mode === 'subscriber' && input.trackingConsent === true;
}

export function createReaderService(deps: ReaderServiceDeps) {
  const { db, clock, config, mailOutbox, secretKey } = deps;
  const urls = publicUrls(config.baseUrl);
  const perIp = new RateLimiter(clock, config.subscribeRateLimitPerIp, 60_000);
  const perAddress = new RateLimiter(clock, 5, 60 * 60 * 1000);
  const links = createReaderLinks({ db, clock, urls });

  /**
   * The hosted form's signed render time. A form handed back after a press is marked `retry`: its next
   * press needs no wait, so a person whose browser filled the form at once gets through on the second
   * press (a bot able to read the answer could as well have waited).
   */
  function formToken(options: { retry?: boolean } = {}): string {
    const stamp = `${clock.now()}${options.retry ? 'r' : ''}`;
    return `${stamp}.${hmacBase64Url(secretKey, `form:${stamp}`)}`;
  }

  /** Why this press of the hosted form is not taken as a person's, or undefined when it is. */
  function formTokenProblem(token: string | undefined, fromHostedPage: boolean): string | undefined {
    if (!token) return fromHostedPage ? FORM_EXPIRED : undefined;
    const [stamp, sig, ...rest] = token.split('.');
    if (!stamp || !sig || rest.length > 0 || !/^\d{1,15}r?$/.test(stamp)) return FORM_EXPIRED;
    if (!constantTimeEqual(sig, hmacBase64Url(secretKey, `form:${stamp}`))) return FORM_EXPIRED;
    if (stamp.endsWith('r')) return undefined;
    return clock.now() - Number(stamp) < MIN_FILL_MS ? FORM_TOO_QUICK : undefined;
  }

  /**
   * Queues (or re-queues) the confirmation mail for a pending subscription, at most hourly. Within a
   * transaction the caller kicks the mail outbox after commit; on the root handle it is kicked here.
   */
  async function sendConfirmation(conn: DbOrTx, newsletter: NewsletterRow, subscriber: Pick<SubscriberRow, 'id' | 'email'>, subscriptionId: number, lastSentAt: number | null): Promise<boolean> {
    const now = clock.now();
    if (lastSentAt !== null && now - lastSentAt < CONFIRM_RESEND_INTERVAL_MS) return false;
    const token = randomToken(32);
    await repo.insertConfirmationToken(conn, { hash: sha256Hex(token), subscriptionId, at: now, expiresAt: now + CONFIRM_TOKEN_TTL_MS });
    await enqueueMail(conn, {
      kind: 'confirmation',
      mail: confirmationEmail(newsletter, senderOf(newsletter, config.mailFrom), subscriber.email, urls.confirm(token)),
      now,
      subscriberId: subscriber.id,
      newsletterId: newsletter.id,
      eventType: 'confirmation_sent',
    });
    await repo.markConfirmSent(conn, subscriptionId, now);
    if (!conn.isTransaction) mailOutbox.kick();
    return true;
  }

  async function subscribe(newsletter: NewsletterRow, input: SubscribeInput): Promise<SubscribeOutcome> {
    const ipWait = perIp.hit(input.ip);
    if (ipWait > 0) throw new RateLimitedError(ipWait, 'Too many sign-ups from your network. Please wait a minute and try again.');
    // A refused press is told so, with the form back: a person must never read "we sent you a mail" for nothing.
    const formProblem = formTokenProblem(input.formToken, input.fromHostedPage);
    if (formProblem) throw new ValidationError({ t: formProblem }, formProblem);
    const email = normalizeEmail(input.email);
    const domain = email.slice(email.lastIndexOf('@') + 1);
    if (config.subscribeBlockedDomains.some((d) => domain === d || domain.endsWith(`.${d}`))) {
      throw new ValidationError({ email: 'Addresses on this domain cannot subscribe. Please use another address.' });
    }
    const addressWait = perAddress.hit(canonicalAddress(email));
    if (addressWait > 0) throw new RateLimitedError(addressWait, 'This address has asked to subscribe several times already. Please check your inbox, or try again later.');
    // Bots and suppressed addresses get the same answer as everyone else, and nothing happens.
    if (input.honeypot.trim() !== '') return 'ignored';
    if (await isSuppressed(db, email)) return 'ignored';

    let outcome: SubscribeOutcome;
    try {
      outcome = await subscribeOnce(newsletter, input, email);
    } catch (err) {
      // Two requests for one new address raced; the loser now finds the winner's rows.
      if (!isUniqueViolation(err)) throw err;
      outcome = await subscribeOnce(newsletter, input, email);
    }
    // Whatever mail the transaction queued leaves now that it has committed.
    mailOutbox.kick();
    return outcome;
  }

  async function subscribeOnce(newsletter: NewsletterRow, input: SubscribeInput, email: string): Promise<SubscribeOutcome> {
    const now = clock.now();
    const ip = config.recordSubscriberIp ? input.ip : null;
    const doubleOptIn = newsletter.double_opt_in === 1;
    return db.transaction().execute(async (trx) => {
      let subscriber = await repo.findSubscriberByEmail(trx, email);
      if (!subscriber) {
        await repo.insertSubscriber(trx, { email, emailHash: emailHash(email), name: input.name, token: randomToken(32), source: input.source, ip, at: now });
        subscriber = (await repo.findSubscriberByEmail(trx, email))!;
      } else if (!subscriber.name && input.name) {
        // Fill a missing name, but never let a stranger rename an existing subscriber.
        await repo.updateSubscriberName(trx, subscriber.id, input.name, now);
      }
      const existing = await repo.findSubscription(trx, subscriber.id, newsletter.id);
      if (!existing) {
        const status = doubleOptIn ? 'pending' : 'active';
        const subscriptionId = await repo.insertSubscription(trx, { subscriberId: subscriber.id, newsletterId: newsletter.id, status, source: input.source, ip, at: now, trackingConsentAt: trackingConsented(newsletter, input) ? now : null });
        await recordEvent(trx, { type: 'subscribed', at: now, subscriberId: subscriber.id, newsletterId: newsletter.id, data: { source: input.source, status } });
        if (doubleOptIn) await sendConfirmation(trx, newsletter, subscriber, subscriptionId, null);
        return status;
      }
      if (existing.status === 'active') {
        // Tell the owner of the address (not the visitor) that nothing changed, at most hourly.
        if (existing.confirm_sent_at === null || now - existing.confirm_sent_at >= CONFIRM_RESEND_INTERVAL_MS) {
          await enqueueMail(trx, {
            kind: 'already_subscribed',
            mail: alreadySubscribedEmail(newsletter, senderOf(newsletter, config.mailFrom), subscriber.email, urls.preferences(subscriber.token)),
            now,
            subscriberId: subscriber.id,
            newsletterId: newsletter.id,
          });
          await repo.markConfirmSent(trx, existing.id, now);
        }
        return doubleOptIn ? 'pending' : 'active';
      }
      if (existing.status === 'unsubscribed') {
        const to = doubleOptIn ? 'pending' : 'active';
        await repo.transitionSubscription(trx, existing.id, ['unsubscribed'], to, now, { source: input.source, ip, trackingConsentAt: trackingConsented(newsletter, input) ? now : null });
        await recordEvent(trx, { type: 'resubscribed', at: now, subscriberId: subscriber.id, newsletterId: newsletter.id, data: { source: input.source, status: to } });
        if (doubleOptIn) await sendConfirmation(trx, newsletter, subscriber, existing.id, null);
        return to;
      }
      await sendConfirmation(trx, newsletter, subscriber, existing.id, existing.confirm_sent_at);
      return 'pending';
    });
  }

  /** The newsletter at `slug`, or the one that had it before a rename (`moved`): old links keep working. */
  async function newsletterAt(slug: string): Promise<{ newsletter: NewsletterRow; moved: boolean } | undefined> {
    const current = await findNewsletterBySlug(db, slug);
    if (current) return { newsletter: current, moved: false };
    const renamed = await findNewsletterByOldSlug(db, slug);
    return renamed ? { newsletter: renamed, moved: true } : undefined;
  }

  return {
    formToken,
    subscribe,
    sendConfirmation,
    ...links,
    newsletterAt,
    /** The site's home page newsletter. */
    defaultNewsletter: () => findDefaultNewsletter(db),
    /** The latest sent posts of a newsletter, for its public home page. */
    archive: (newsletterId: number, limit: number) => listArchive(db, newsletterId, limit),
  };
}

export type { ConfirmationState } from './reader-links.js';
