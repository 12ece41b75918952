import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../../config.js';
import type { Db, DbOrTx } from '../../db/database.js';
import { isUniqueViolation } from '../../db/errors.js';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import type { SubscriberRow } from '../../db/tables/subscribers.js';
import type { Clock } from '../../lib/clock.js';
import { RateLimiter } from '../../lib/rate-limiter.js';
import { constantTimeEqual, hmacBase64Url, randomToken, sha256Hex } from '../../lib/tokens.js';
import { publicUrls } from '../../lib/urls.js';
import { enqueueMail, type MailOutbox } from '../../sending/mail-outbox.js';
import { recordEvent } from '../../domain/events.js';
import { senderOf } from '../../domain/sender.js';
import { emailHash, isSuppressed } from '../../domain/suppressions.js';
import { findDefaultNewsletter, findNewsletterById, findNewsletterByOldSlug, findNewsletterBySlug } from '../newsletters/repository.js';
import type { SignupGuard } from '../protection/service.js';
import { listArchive } from '../posts/repository.js';
import { alreadySubscribedEmail, confirmationEmail } from './emails.js';
import { passGate } from './gate.js';
import { createReaderLinks } from './reader-links.js';
import type { WelcomeQueue } from '../welcome/queue.js';
import * as repo from './repository.js';

export const CONFIRM_TOKEN_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/**
 * At most one confirmation (or "already subscribed" notice) per address and newsletter a day, whoever
 * asks and from wherever: a stranger cannot turn the form into a way of mail-bombing someone.
 */
export const CONFIRM_RESEND_INTERVAL_MS = 24 * 60 * 60 * 1000;
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
  /** The reader chose "keep what I typed" after a typo suggestion. */
  acceptTypo: boolean;
  /** The solved challenge (proof of work or captcha token), when the form carried one. */
  challengeResponse: string | undefined;
  /** The reader ticked the per-subscriber tracking box (kept only when the newsletter tracks per subscriber). */
  trackingConsent?: boolean;
}

/** `held`: kept for the writer's review (Signup protection) instead of subscribed. */
/** What a reviewed sign-up carries besides its address, name and source: it passed the gate already. */
const REVIEWED = { ip: '', honeypot: '', formToken: undefined, fromHostedPage: false, acceptTypo: true, challengeResponse: undefined };

export type SubscribeOutcome = 'pending' | 'active' | 'ignored' | 'held';

export interface ReaderServiceDeps {
  db: Db;
  clock: Clock;
  config: Config;
  mailOutbox: MailOutbox;
  secretKey: string;
  /** Challenge, address checks and the record of refused sign-ups (features/protection). */
  guard: SignupGuard;
  /** The newsletter's welcome mail, queued where a subscription becomes active. */
  welcome?: WelcomeQueue;
  log?: FastifyBaseLogger;
}

export type ReaderService = ReturnType<typeof createReaderService>;

/** Consent to per-person tracking counts only where the newsletter asks for it (the box is shown only then). */
function trackingConsented(newsletter: NewsletterRow, input: SubscribeInput): boolean {
  return newsletter.tracking_mode === 'subscriber' && input.trackingConsent === true;
}

export function createReaderService(deps: ReaderServiceDeps) {
  const { db, clock, config, mailOutbox, secretKey, guard } = deps;
  const urls = publicUrls(config.baseUrl);
  const perIp = new RateLimiter(clock, config.subscribeRateLimitPerIp, 60_000);
  const perAddress = new RateLimiter(clock, 5, 60 * 60 * 1000);
  const links = createReaderLinks({ db, clock, urls, welcome: deps.welcome, mailQueued: () => mailOutbox.kick() });

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
    const passed = await passGate({ guard, perIp, perAddress, formTokenProblem, tooQuick: FORM_TOO_QUICK }, newsletter, input);
    if (passed === 'ignored') return 'ignored';
    if (passed.held) return 'held';
    // Suppressed addresses get the same answer as everyone else, and nothing happens.
    if (await isSuppressed(db, passed.email)) return 'ignored';
    return write(newsletter, input, passed.email);
  }

  async function write(newsletter: NewsletterRow, input: SubscribeInput, email: string): Promise<SubscribeOutcome> {
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
        // Double opt-in asks for a confirmation; otherwise the subscription is active now, and welcomed.
        await (doubleOptIn ? sendConfirmation(trx, newsletter, subscriber, subscriptionId, null) : deps.welcome?.queue(trx, newsletter.id, [subscriber.id], now));
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
        await (doubleOptIn ? sendConfirmation(trx, newsletter, subscriber, existing.id, null) : deps.welcome?.queue(trx, newsletter.id, [subscriber.id], now));
        return to;
      }
      await sendConfirmation(trx, newsletter, subscriber, existing.id, existing.confirm_sent_at);
      return 'pending';
    });
  }

  /** A sign-up the writer approved (Signup protection), subscribed as the form would have; never a suppressed one. */
  async function admitReviewed(held: { newsletterId: number | null; email: string; name: string; source: string }): Promise<void> {
    const newsletter = held.newsletterId === null ? undefined : await findNewsletterById(db, held.newsletterId);
    if (!newsletter || (await isSuppressed(db, held.email))) return;
    await write(newsletter, { ...REVIEWED, email: held.email, name: held.name, source: held.source }, held.email);
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
    admitReviewed,
    /** The challenge the subscribe form must carry right now (attack mode, or always by setting). */
    signupChallenge: () => guard.widget(),
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
