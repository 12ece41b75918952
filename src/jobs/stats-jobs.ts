import type { Db } from '../db/database.js';
import { refreshStats } from '../features/stats/rollups.js';
import type { JobDefinition } from './registry.js';

/** The stats roll-ups: the stats pages and the dashboard read only what this job writes. */
export function statsJobs(deps: { db: Db }): JobDefinition[] {
  return [
    {
      name: 'stats-rollups',
      schedule: '0 * * * * *',
      description: 'Rolls up opens, clicks, deliveries, bounces and unsubscribes per post, hour and link, and subscriber growth per newsletter and day.',
      run: async ({ now }) => ((await refreshStats(deps.db, now)).posts === 0 ? 'idle' : undefined),
    },
  ];
}
