import type { Generated, Selectable } from 'kysely';

export type PaidPlanInterval = 'monthly' | 'yearly';

/** A newsletter's prices in Stripe (src/features/billing); a changed amount gets a new price id. */
export interface PaidPlansTable {
  newsletter_id: number;
  stripe_product_id: string;
  currency: string;
  monthly_amount: number | null;
  monthly_price_id: string | null;
  yearly_amount: number | null;
  yearly_price_id: string | null;
  created_at: number;
  updated_at: number;
}

/**
 * Stripe's own statuses, except `paused`, which also covers an active subscription whose collection is
 * paused: either way the reader gets no paid posts and is not billed.
 */
export type PaidStatus = 'incomplete' | 'incomplete_expired' | 'trialing' | 'active' | 'past_due' | 'unpaid' | 'paused' | 'canceled';

export interface PaidSubscriptionsTable {
  id: Generated<number>;
  stripe_subscription_id: string;
  stripe_customer_id: string;
  subscription_id: number;
  newsletter_id: number;
  subscriber_id: number;
  plan: PaidPlanInterval;
  amount: Generated<number>;
  currency: Generated<string>;
  status: PaidStatus;
  current_period_end: number | null;
  pause_until: number | null;
  cancel_at_period_end: Generated<number>;
  last_event_at: number;
  reminded_for: number | null;
  canceled_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface StripeEventsTable {
  id: string;
  type: string;
  received_at: number;
}

export type PaidPlanRow = Selectable<PaidPlansTable>;
export type PaidSubscriptionRow = Selectable<PaidSubscriptionsTable>;
