import type { JobDefinition } from '../../jobs/registry.js';
import type { BillingService } from './service.js';

/** Registered only when Stripe is configured. */
export function billingJobs(deps: { billing: BillingService }): JobDefinition[] {
  if (!deps.billing.enabled) return [];
  return [
    {
      name: 'billing-restart-reminders',
      schedule: '23 * * * *',
      description: 'Emails each reader whose paid subscription is paused 7 days before billing restarts, once per pause.',
      run: async ({ now }) => ((await deps.billing.remindRestarts(now)) === 0 ? 'idle' : undefined),
    },
  ];
}
