import type { Db } from '../../db/database.js';
import { pendingMigrations } from '../../db/migrate.js';

/**
 * Whether this process should be sent traffic (/readyz), as opposed to whether it is alive (/healthz):
 * the database answers, every migration this code knows has run, and the process is not draining. On
 * SIGTERM the server drains first, so a load balancer stops sending requests before the listener closes.
 */

export interface ReadinessReport {
  ready: boolean;
  checks: { database: 'ok' | 'unreachable'; migrations: 'ok' | 'pending' | 'unknown'; draining: boolean };
}

export interface Readiness {
  readonly draining: boolean;
  /** From now on /readyz answers 503 (the process is shutting down). */
  drain(): void;
  check(db: Db, pingDb: () => Promise<boolean>): Promise<ReadinessReport>;
}

export function createReadiness(): Readiness {
  let draining = false;
  /** Once every migration has run it stays so: migrations are never rolled back under a running server. */
  let migrated = false;

  async function migrations(db: Db): Promise<ReadinessReport['checks']['migrations']> {
    if (migrated) return 'ok';
    try {
      migrated = (await pendingMigrations(db)).length === 0;
      return migrated ? 'ok' : 'pending';
    } catch {
      return 'unknown';
    }
  }

  return {
    get draining() {
      return draining;
    },
    drain() {
      draining = true;
    },
    async check(db, pingDb) {
      const database = (await pingDb()) ? 'ok' : 'unreachable';
      const migrationState = database === 'ok' ? await migrations(db) : 'unknown';
      return {
        ready: !draining && database === 'ok' && migrationState === 'ok',
        checks: { database, migrations: migrationState, draining },
      };
    },
  };
}
