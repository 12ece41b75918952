import type { Db } from '../../../db/database.js';
import type { JobDefinition } from '../../../jobs/registry.js';
import { createBounceMailbox, type BounceMailboxDeps } from './poller.js';
import { subscriberEmailByToken } from './repository.js';

export const BOUNCE_MAILBOX_JOB = 'bounce-mailbox';

/**
 * The bounce mailbox's poll as a registry job, when a mailbox is configured (none otherwise). A server
 * that cannot be reached fails the run, which the Jobs page shows; the next minute tries again.
 */
export function bounceMailboxJobs(
  deps: Omit<BounceMailboxDeps, 'settings' | 'subscriberEmail'> & { settings: BounceMailboxDeps['settings'] | undefined; db: Db },
): JobDefinition[] {
  const { settings, db, ...rest } = deps;
  if (!settings) return [];
  const mailbox = createBounceMailbox({ ...rest, settings, subscriberEmail: (token) => subscriberEmailByToken(db, token) });
  return [
    {
      name: BOUNCE_MAILBOX_JOB,
      // Second 20 of every minute, off the minute when other jobs start.
      schedule: '20 * * * * *',
      description: `Reads new bounces and spam complaints from ${settings.mailbox} on ${settings.host}, records them, and moves each mail to ${settings.processedFolder} (or ${settings.unparsedFolder} when it is no bounce).`,
      run: async () => {
        await mailbox.pollOnce();
      },
    },
  ];
}
