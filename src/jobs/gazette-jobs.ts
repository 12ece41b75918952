import { sqliteBackupJob } from '../backup/backup-job.js';
import type { DatabaseConfig } from '../config.js';
import type { BackupConfig } from '../backup/settings.js';
import type { SendingEngine } from '../sending/engine.js';
import type { MailOutbox } from '../sending/mail-outbox.js';
import { createJobRegistry, type JobRegistry, type JobRegistryDeps } from './registry.js';
import { sendingJobs } from './sending-jobs.js';
import { statsJobs } from './stats-jobs.js';

export interface GazetteJobsDeps extends JobRegistryDeps {
  sending: SendingEngine;
  mailOutbox: MailOutbox;
  /** With a SQLite file and a backup schedule, the "backup" job is registered. */
  backup?: { database: DatabaseConfig; config: BackupConfig };
}

/** The registry with every recurring job of the server; server.ts and the test app both build it here. */
export function createGazetteJobs(deps: GazetteJobsDeps): JobRegistry {
  const registry = createJobRegistry(deps);
  for (const job of sendingJobs(deps)) registry.register(job);
  for (const job of statsJobs(deps)) registry.register(job);
  const backup = deps.backup;
  if (backup?.database.kind === 'sqlite' && backup.database.file !== ':memory:' && backup.config.schedule !== undefined) {
    registry.register(sqliteBackupJob({ databaseFile: backup.database.file, backup: { ...backup.config, schedule: backup.config.schedule }, ...(deps.log ? { log: deps.log } : {}) }));
  }
  return registry;
}
