import type Stripe from 'stripe';
import type { Config, StripeConfig } from '../../config.js';
import type { Db } from '../../db/database.js';
import type { Clock } from '../../lib/clock.js';
import type { MailOutbox } from '../../sending/mail-outbox.js';
import type { EventLog } from './webhook-events.js';

/** What the billing feature's parts share; only built when both Stripe secrets are set. */
export interface BillingDeps {
  db: Db;
  clock: Clock;
  config: Config;
  stripeConfig: StripeConfig;
  stripe: Stripe;
  mailOutbox: MailOutbox;
  log: EventLog;
}

/** Thrown when Stripe cannot be reached or refuses a call: the page says so, nothing local changes. */
export class StripeUnavailableError extends Error {
  constructor(override readonly cause: unknown) {
    super('Payments are unavailable right now. Nothing was changed; please try again in a few minutes.');
    this.name = 'StripeUnavailableError';
  }
}

/** Runs a Stripe call, turning its failures into one error the routes answer with 503. */
export async function callStripe<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw new StripeUnavailableError(err);
  }
}
