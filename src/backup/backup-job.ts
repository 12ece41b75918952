import type { JobDefinition, JobLog } from '../jobs/registry.js';
import type { BackupConfig } from './settings.js';
import { backupSqlite } from './sqlite-backup.js';

/**
 * The server's scheduled SQLite backup. On Postgres the database server is where backups belong
 * (pg_dump from cron, or its own tooling), so the job is only registered for a SQLite file.
 */
export function sqliteBackupJob(deps: { databaseFile: string; backup: BackupConfig & { schedule: string }; log?: JobLog }): JobDefinition {
  const { backup } = deps;
  return {
    name: 'backup',
    schedule: backup.schedule,
    description: `Copies the database into ${backup.dir} while Gazette keeps running, checks the copy, and keeps the newest backup of each of the last ${backup.retention.daily} days and ${backup.retention.weekly} weeks.`,
    async run({ now }) {
      const result = await backupSqlite({ databaseFile: deps.databaseFile, dir: backup.dir, now, retention: backup.retention });
      deps.log?.info({ file: result.file, bytes: result.bytes, subscribers: result.manifest.subscribers, deleted: result.deleted.length }, 'backup written');
    },
  };
}
