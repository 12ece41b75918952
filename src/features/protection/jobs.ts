import type { JobDefinition } from '../../jobs/registry.js';
import type { ProtectionService } from './service.js';

/** Spent challenges past their expiry and old refusals go; held sign-ups wait for the writer. */
export function protectionJobs(deps: { protection: ProtectionService }): JobDefinition[] {
  return [
    {
      name: 'signup-protection-prune',
      schedule: '17 3 * * *',
      description: 'Forgets spent sign-up challenges and refused or flagged sign-ups older than 30 days.',
      run: async () => ((await deps.protection.prune()) > 0 ? undefined : 'idle'),
    },
  ];
}
