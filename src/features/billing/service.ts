import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import type { AudienceTier } from '../../db/tables/posts.js';
import { BadRequestError, ConflictError, NotFoundError, RateLimitedError } from '../../lib/errors.js';
import { RateLimiter } from '../../lib/rate-limiter.js';
import type { Clock } from '../../lib/clock.js';
import type { MailOutbox } from '../../sending/mail-outbox.js';
import type { BillingDeps } from './deps.js';
import { offer, remindRestarts, setPlan, type PlanInput } from './plans.js';
import * as actions from './reader-actions.js';
import { figures, findNewsletter, findNewsletterBySlug, findPlan, findPostTier, listForSubscriber, setPostTier } from './repository.js';
import { publicUrls } from '../../lib/urls.js';
import { dashboardCustomerUrl, stripeClient } from './stripe-client.js';
import { formatAmount } from './stripe-state.js';
import { processStripeEvent, type EventLog } from './webhook-events.js';

export type BillingService = ReturnType<typeof createBillingService>;

const DAY = 24 * 60 * 60 * 1000;

/** Paying, paused, monthly revenue and cancellations over the last 30 days, with their display texts. */
async function dashboardFigures(b: BillingDeps, newsletterId: number | null) {
  const f = await figures(b.db, newsletterId, b.clock.now() - 30 * DAY);
  return { ...f, mrrText: formatAmount(f.mrr, f.currency), churnText: f.churnRate === null ? '–' : `${Math.round(f.churnRate * 1000) / 10}%` };
}

/**
 * Paid subscriptions through Stripe. Without STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET the service
 * is `enabled: false` and every page of the feature answers 404, so nothing paid appears anywhere.
 */
export function createBillingService(d: { db: Db; clock: Clock; config: Config; mailOutbox: MailOutbox; log: EventLog }) {
  const stripeConfig = d.config.stripe;
  const deps: BillingDeps | undefined = stripeConfig ? { ...d, stripeConfig, stripe: stripeClient(stripeConfig) } : undefined;
  // Each press of the paid form creates a Checkout session in Stripe: as many a minute per address as sign-ups.
  const checkoutsPerIp = new RateLimiter(d.clock, d.config.subscribeRateLimitPerIp, 60_000);
  const on = (): BillingDeps => {
    if (!deps) throw new NotFoundError('Paid subscriptions are not set up on this server.');
    return deps;
  };

  return {
    enabled: deps !== undefined,
    testMode: stripeConfig?.secretKey.includes('_test_') ?? false,

    /** Verifies Stripe's signature over the exact bytes received, then applies the event. */
    async receiveWebhook(rawBody: Buffer, signature: string | undefined) {
      const b = on();
      if (!signature) throw new BadRequestError({ 'stripe-signature': 'missing' }, 'The Stripe-Signature header is missing.');
      let event;
      try {
        event = b.stripe.webhooks.constructEvent(rawBody, signature, b.stripeConfig.webhookSecret, 300);
      } catch {
        throw new BadRequestError({ 'stripe-signature': 'invalid' }, 'The Stripe signature does not match this payload.');
      }
      const outcome = await processStripeEvent({ db: b.db, stripe: b.stripe, log: b.log, now: b.clock.now(), mail: { from: b.config.mailFrom, baseUrl: b.config.baseUrl } }, event);
      b.mailOutbox.kick();
      return { id: event.id, type: event.type, outcome };
    },

    offer: async (newsletterId: number) => (deps ? offer(deps, newsletterId) : undefined),

    /** The paid subscribe page of the newsletter at `slug`; 404 when it sells nothing. */
    async offerAt(slug: string) {
      const b = on();
      const newsletter = await findNewsletterBySlug(b.db, slug);
      const prices = newsletter ? await offer(b, newsletter.id) : undefined;
      if (!newsletter || !prices) throw new NotFoundError('This newsletter has no paid plan.');
      const urls = publicUrls(b.config.baseUrl);
      return { newsletter, prices, homeUrl: urls.home(newsletter.slug), action: `/n/${encodeURIComponent(newsletter.slug)}/paid` };
    },
    async startCheckout(slug: string, input: { email: string; plan: 'monthly' | 'yearly' }, ip: string) {
      const b = on();
      const wait = checkoutsPerIp.acquire(ip);
      if (wait > 0) throw new RateLimitedError(wait, 'Too many payment attempts from your address; please try again in a minute.');
      return actions.startCheckout(b, slug, input);
    },
    readerPanel: async (subscriberId: number, token: string) => (deps ? actions.readerPanel(deps, subscriberId, token) : []),
    pause: (token: string, paidId: number, months: actions.PauseLength) => actions.pause(on(), token, paidId, months),
    resume: (token: string, paidId: number) => actions.resume(on(), token, paidId),
    cancel: (token: string, paidId: number) => actions.cancel(on(), token, paidId),
    portal: (token: string, paidId: number) => actions.portal(on(), token, paidId),
    cancelPreview: (token: string, paidId: number) => actions.cancelPreview(on(), token, paidId),

    setPlan: (newsletterId: number, input: PlanInput) => setPlan(on(), newsletterId, input),
    remindRestarts: (now: number) => remindRestarts(on(), now),

    /** The price settings page: the plan as saved and the newsletter's figures over the last 30 days. */
    async planPage(newsletterId: number) {
      const b = on();
      const newsletter = await findNewsletter(b.db, newsletterId);
      if (!newsletter) throw new NotFoundError('There is no such newsletter.');
      const [plan, f] = await Promise.all([findPlan(b.db, newsletterId), dashboardFigures(b, newsletterId)]);
      return { newsletter, plan, figures: f };
    },

    /** The dashboard's paid figures for one newsletter or all (null); undefined when Stripe is not set up. */
    dashboard: async (newsletterId: number | null) => (deps ? dashboardFigures(deps, newsletterId) : undefined),

    /** A subscriber's paid subscriptions for the writer, each linked to the customer in Stripe's dashboard. */
    async subscriberBilling(subscriberId: number) {
      if (!deps) throw new NotFoundError('Paid subscriptions are not set up on this server.');
      const rows = await listForSubscriber(deps.db, subscriberId);
      return rows.map((r) => ({ ...r, price: formatAmount(r.amount, r.currency), stripeUrl: dashboardCustomerUrl(deps.stripeConfig.secretKey, r.stripe_customer_id) }));
    },

    async setPostTier(postId: number, tier: AudienceTier) {
      on();
      if (!(await findPostTier(d.db, postId))) throw new NotFoundError('There is no such post.');
      if (!(await setPostTier(d.db, postId, tier, d.clock.now()))) throw new ConflictError('This post started sending; its audience can no longer change.');
    },
  };
}
