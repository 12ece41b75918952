import type { JobDefinition } from '../../jobs/registry.js';
import type { WebhookService } from './service.js';

export function webhookJobs(deps: { webhooks: WebhookService }): JobDefinition[] {
  return [
    {
      name: 'webhooks',
      // Every 5 s: the first retry of a failed event is due 5 s after it, and new events go out promptly.
      schedule: '*/5 * * * * *',
      description: 'Sends new events to the webhook endpoints, retries those that failed when their time comes, and forgets settled events after 30 days.',
      run: async () => {
        const { queued, attempts } = await deps.webhooks.runOnce();
        return queued + attempts === 0 ? 'idle' : undefined;
      },
    },
  ];
}
