import type { JobDefinition } from '../../jobs/registry.js';
import type { LinkService } from './service.js';

/** Link checking's recurring work; registered where the service is built (src/app.ts). */
export function linkJobs(deps: { links: Pick<LinkService, 'prune' | 'recheckUpcoming'> }): JobDefinition[] {
  return [
    {
      name: 'link-recheck',
      schedule: '*/30 * * * *',
      description: 'Checks again the links of posts scheduled for the next 24 hours whose last results have expired.',
      run: async () => ((await deps.links.recheckUpcoming(24 * 3_600_000, 200)) > 0 ? undefined : 'idle'),
    },
    {
      name: 'link-checks-prune',
      schedule: '41 3 * * *',
      description: 'Forgets link check results that expired more than 30 days ago.',
      run: async () => ((await deps.links.prune()) > 0 ? undefined : 'idle'),
    },
  ];
}
