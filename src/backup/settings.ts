import path from 'node:path';
import { parseSchedule } from '../jobs/schedule.js';
import type { Retention } from './retention.js';

/** Backups (README, "Backups"): where they go, when the server takes them, how many it keeps. */
export interface BackupConfig {
  dir: string;
  /** node-cron schedule (UTC) of the server's own backups; undefined when BACKUP_SCHEDULE=off. */
  schedule: string | undefined;
  retention: Retention;
}

export const DEFAULT_BACKUP_SCHEDULE = '17 3 * * *';

export interface BackupEnv {
  BACKUP_DIR?: string | undefined;
  BACKUP_SCHEDULE?: string | undefined;
  BACKUP_KEEP_DAILY?: number | undefined;
  BACKUP_KEEP_WEEKLY?: number | undefined;
}

export function parseBackupConfig(e: BackupEnv, dataDir: string, cwd: string, add: (variable: string, message: string) => void): BackupConfig {
  let schedule: string | undefined = e.BACKUP_SCHEDULE ?? DEFAULT_BACKUP_SCHEDULE;
  if (/^(off|false|no|0)$/i.test(schedule)) schedule = undefined;
  else {
    try {
      parseSchedule(schedule);
    } catch (err) {
      add('BACKUP_SCHEDULE', `must be a cron expression like "17 3 * * *" (daily at 03:17 UTC) or off (${(err as Error).message})`);
    }
  }
  const daily = e.BACKUP_KEEP_DAILY ?? 7;
  const weekly = e.BACKUP_KEEP_WEEKLY ?? 4;
  if (daily + weekly === 0) add('BACKUP_KEEP_DAILY', 'BACKUP_KEEP_DAILY and BACKUP_KEEP_WEEKLY cannot both be 0 (no backup would be kept)');
  return {
    dir: e.BACKUP_DIR === undefined ? path.join(dataDir, 'backups') : path.resolve(cwd, e.BACKUP_DIR),
    schedule,
    retention: { daily, weekly },
  };
}
