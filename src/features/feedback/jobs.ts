import type { JobDefinition } from '../../jobs/registry.js';
import type { FeedbackService } from './service.js';

/** The feedback pipeline's recurring work; registered where the service is built (src/app.ts). */
export function feedbackJobs(deps: { feedback: FeedbackService }): JobDefinition[] {
  return [
    {
      name: 'feedback-prune',
      schedule: '17 3 * * *',
      description: 'Empties the raw payloads of bounce and complaint reports received more than 30 days ago; the reports themselves stay.',
      run: async () => {
        await deps.feedback.pruneRaw();
      },
    },
  ];
}
