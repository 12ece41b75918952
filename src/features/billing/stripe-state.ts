import type Stripe from 'stripe';
import type { PaidPlanInterval, PaidStatus } from '../../db/tables/billing.js';

/** What Gazette keeps of a Stripe subscription, read from the object itself (never from the event's type). */
export interface SubscriptionSnapshot {
  stripeSubscriptionId: string;
  customerId: string;
  status: PaidStatus;
  plan: PaidPlanInterval;
  amount: number;
  currency: string;
  currentPeriodEnd: number | null;
  pauseUntil: number | null;
  cancelAtPeriodEnd: boolean;
  canceledAt: number | null;
  /** Set by Gazette at checkout: which newsletter and address the subscription is for. */
  newsletterId: number | undefined;
  email: string | undefined;
}

const STATUSES: readonly PaidStatus[] = ['incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'unpaid', 'paused', 'canceled'];

/** Paid posts reach these; past_due keeps access while Stripe retries the card (a grace period). */
export const ACCESS_STATUSES: readonly PaidStatus[] = ['active', 'trialing', 'past_due'];

export const hasPaidAccess = (status: PaidStatus) => ACCESS_STATUSES.includes(status);

const ms = (seconds: number | null | undefined) => (typeof seconds === 'number' ? seconds * 1000 : null);

/**
 * Stripe leaves a subscription whose collection is paused `active`: it counts as paused here, or a
 * paused reader would keep getting paid posts for free. A subscription paused with the pause endpoint
 * has the status `paused` itself.
 */
export function snapshotOf(sub: Stripe.Subscription): SubscriptionSnapshot {
  const item = sub.items?.data?.[0];
  const raw = STATUSES.includes(sub.status as PaidStatus) ? (sub.status as PaidStatus) : 'incomplete';
  const collectionPaused = sub.pause_collection !== null && sub.pause_collection !== undefined;
  const status: PaidStatus = (raw === 'active' || raw === 'trialing' || raw === 'past_due') && collectionPaused ? 'paused' : raw;
  const newsletterId = Number(sub.metadata?.gazette_newsletter);
  return {
    stripeSubscriptionId: sub.id,
    customerId: typeof sub.customer === 'string' ? sub.customer : sub.customer.id,
    status,
    plan: item?.price?.recurring?.interval === 'year' ? 'yearly' : 'monthly',
    amount: item?.price?.unit_amount ?? 0,
    currency: item?.price?.currency ?? 'eur',
    currentPeriodEnd: ms(item?.current_period_end),
    pauseUntil: collectionPaused ? ms(sub.pause_collection?.resumes_at) : null,
    cancelAtPeriodEnd: sub.cancel_at_period_end === true,
    canceledAt: ms(sub.canceled_at),
    newsletterId: Number.isInteger(newsletterId) && newsletterId > 0 ? newsletterId : undefined,
    email: sub.metadata?.gazette_email || undefined,
  };
}

/** "€5.00", from an amount in the currency's smallest unit. */
export function formatAmount(amount: number, currency: string): string {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency: currency.toUpperCase() }).format(amount / 100);
  } catch {
    return `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;
  }
}
