import { createRequire } from 'node:module';
import type Stripe from 'stripe';
import type { StripeConfig } from '../../config.js';

/** The API version Gazette's reading of Stripe objects is written against (current period on the items). */
export const STRIPE_API_VERSION = '2026-11-18.endive';

/** The official client, pointed at STRIPE_API_BASE when set (the tests' fake on loopback). */
export function stripeClient(config: StripeConfig): Stripe {
  const base = config.apiBase ? new URL(config.apiBase) : undefined;
  // The client is some 35 MB of a process: it is loaded only where paid plans are set up.
  const StripeClient = createRequire(import.meta.url)('stripe') as typeof Stripe;
  return new StripeClient(config.secretKey, {
    apiVersion: STRIPE_API_VERSION,
    maxNetworkRetries: 1,
    timeout: 15_000,
    appInfo: { name: 'Gazette' },
    ...(base
      ? { host: base.hostname, port: base.port || (base.protocol === 'https:' ? 443 : 80), protocol: base.protocol === 'https:' ? 'https' : 'http' }
      : {}),
  });
}

/** Stripe's dashboard page of a customer (refunds and invoices are handled there, not in Gazette). */
export function dashboardCustomerUrl(secretKey: string, customerId: string): string {
  const test = secretKey.includes('_test_') ? '/test' : '';
  return `https://dashboard.stripe.com${test}/customers/${encodeURIComponent(customerId)}`;
}
