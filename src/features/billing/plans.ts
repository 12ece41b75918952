import { NotFoundError } from '../../lib/errors.js';
import { enqueueMail } from '../../sending/mail-outbox.js';
import { publicUrls } from '../../lib/urls.js';
import { callStripe, type BillingDeps } from './deps.js';
import { findNewsletter, findPlan, listRestartsDue, savePlan } from './repository.js';
import { formatAmount } from './stripe-state.js';
import { markReminded } from './transitions-repository.js';

export interface PlanInput {
  currency: string;
  /** In the currency's smallest unit; null: that interval is not offered. */
  monthly: number | null;
  yearly: number | null;
}

const REMINDER_LEAD_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Saves a newsletter's prices, creating them in Stripe. Stripe prices are immutable, so a changed amount
 * (or currency) is a new price; readers already subscribed keep the price they bought.
 */
export async function setPlan(deps: BillingDeps, newsletterId: number, input: PlanInput): Promise<void> {
  const newsletter = await findNewsletter(deps.db, newsletterId);
  if (!newsletter) throw new NotFoundError('There is no such newsletter.');
  const current = await findPlan(deps.db, newsletterId);
  const productId =
    current?.stripe_product_id ??
    (await callStripe(() => deps.stripe.products.create({ name: newsletter.name, metadata: { gazette_newsletter: String(newsletter.id) } }))).id;
  const priceFor = async (interval: 'month' | 'year', amount: number | null, oldAmount: number | null | undefined, oldId: string | null | undefined) => {
    if (amount === null) return null;
    if (oldId && oldAmount === amount && current?.currency === input.currency) return oldId;
    const price = await callStripe(() => deps.stripe.prices.create({ product: productId, currency: input.currency, unit_amount: amount, recurring: { interval } }));
    return price.id;
  };
  const monthlyId = await priceFor('month', input.monthly, current?.monthly_amount, current?.monthly_price_id);
  const yearlyId = await priceFor('year', input.yearly, current?.yearly_amount, current?.yearly_price_id);
  const now = deps.clock.now();
  await savePlan(deps.db, {
    newsletter_id: newsletterId,
    stripe_product_id: productId,
    currency: input.currency,
    monthly_amount: input.monthly,
    monthly_price_id: monthlyId,
    yearly_amount: input.yearly,
    yearly_price_id: yearlyId,
    created_at: current?.created_at ?? now,
    updated_at: now,
  });
}

/** What the subscribe page offers, or undefined when the newsletter sells nothing. */
export async function offer(deps: BillingDeps, newsletterId: number) {
  const plan = await findPlan(deps.db, newsletterId);
  if (!plan || (!plan.monthly_price_id && !plan.yearly_price_id)) return undefined;
  const label = (amount: number | null, per: string) => (amount === null ? null : `${formatAmount(amount, plan.currency)} a ${per}`);
  return {
    monthly: plan.monthly_price_id ? label(plan.monthly_amount, 'month') : null,
    yearly: plan.yearly_price_id ? label(plan.yearly_amount, 'year') : null,
  };
}

/**
 * Queues one reminder per pause, 7 days before billing restarts. The conditional mark and the mail are
 * one transaction, so a second run (or a second process) finds the reminder queued and sends nothing.
 */
export async function remindRestarts(deps: BillingDeps, now: number): Promise<number> {
  const due = await listRestartsDue(deps.db, now, now + REMINDER_LEAD_MS);
  const urls = publicUrls(deps.config.baseUrl);
  let queued = 0;
  for (const r of due) {
    const until = r.pause_until!;
    const date = new Date(until).toISOString().slice(0, 10);
    const sent = await deps.db.transaction().execute(async (trx) => {
      if (!(await markReminded(trx, r.id, until))) return false;
      await enqueueMail(trx, {
        kind: 'billing_restart',
        now,
        subscriberId: r.subscriber_id,
        newsletterId: r.newsletter_id,
        mail: {
          from: deps.config.mailFrom,
          to: r.email,
          subject: `Your paid subscription to ${r.newsletter_name} restarts on ${date}`,
          headers: { 'Auto-Submitted': 'auto-generated' },
          text: [
            `Your pause of ${r.newsletter_name} ends on ${date}. From then on you are billed ${formatAmount(r.amount, r.currency)} a ${r.plan === 'yearly' ? 'year' : 'month'} again and receive the paid posts.`,
            '',
            `To resume now, pause for longer or cancel instead, open your preferences: ${urls.preferences(r.token)}`,
          ].join('\n'),
        },
      });
      return true;
    });
    if (sent) queued++;
  }
  if (queued > 0) deps.mailOutbox.kick();
  return queued;
}
