import { createReadStream, promises as fs, type ReadStream } from 'node:fs';
import path from 'node:path';
import { backupTime } from '../../backup/retention.js';
import { NotFoundError } from '../../lib/errors.js';

/** The backups page: what is in BACKUP_DIR, and one file of it to download. */

export interface BackupFile {
  name: string;
  takenAt: number;
  bytes: number;
  kind: 'sqlite' | 'postgres';
}

/** A backup's file name as Gazette writes it (with or without a label): nothing else is ever served. */
export const BACKUP_NAME = /^gazette-\d{8}-\d{6}(-\d+)?(-[a-z-]+)?\.(sqlite\.gz|pgdump)$/;

/** Backups in `dir`, newest first; none when the folder does not exist yet. */
export async function listBackups(dir: string): Promise<BackupFile[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files: BackupFile[] = [];
  for (const name of names.filter((n) => BACKUP_NAME.test(n))) {
    const stat = await fs.stat(path.join(dir, name)).catch(() => undefined);
    if (!stat?.isFile()) continue;
    // A labelled backup's time is in its name too, before the label.
    const takenAt = backupTime(name.replace(/-[a-z-]+(?=\.(sqlite\.gz|pgdump)$)/, '')) ?? stat.mtimeMs;
    files.push({ name, takenAt, bytes: stat.size, kind: name.endsWith('.pgdump') ? 'postgres' : 'sqlite' });
  }
  return files.sort((a, b) => b.takenAt - a.takenAt || b.name.localeCompare(a.name));
}

/** The backup `name` in `dir` to send; NotFoundError for any other name or a file that is gone. */
export async function openBackup(dir: string, name: string): Promise<{ stream: ReadStream; bytes: number }> {
  if (!BACKUP_NAME.test(name)) throw new NotFoundError('There is no such backup.');
  const file = path.join(dir, name);
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat?.isFile()) throw new NotFoundError('There is no such backup.');
  return { stream: createReadStream(file), bytes: stat.size };
}
