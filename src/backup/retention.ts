/**
 * Backup file names and which of them to keep. A name carries its own UTC time, so retention needs no
 * file dates (a copied or restored folder keeps working): gazette-YYYYMMDD-HHMMSS.<kind>.
 */

export type BackupKind = 'sqlite' | 'postgres';

const EXTENSION: Record<BackupKind, string> = { sqlite: '.sqlite.gz', postgres: '.pgdump' };
const NAME = /^gazette-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})(?:-(\d+))?\.(sqlite\.gz|pgdump)$/;

const pad = (n: number) => String(n).padStart(2, '0');

/** A backup's size for people: KB below a megabyte, MB with one decimal above. */
export const backupSize = (bytes: number) => (bytes < 1_048_576 ? `${Math.max(1, Math.round(bytes / 1024))} KB` : `${(bytes / 1_048_576).toFixed(1)} MB`);

/** YYYYMMDD-HHMMSS in UTC. */
export function utcStamp(at: number): string {
  const d = new Date(at);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}-${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
}

export function backupFileName(kind: BackupKind, at: number, attempt = 0): string {
  return `gazette-${utcStamp(at)}${attempt > 0 ? `-${attempt}` : ''}${EXTENSION[kind]}`;
}

/** The time a backup's name says it was taken, or undefined for any other file. */
export function backupTime(name: string): number | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number);
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
}

export interface Retention {
  /** The newest backup of each of this many most recent days (UTC) that have one. */
  daily: number;
  /** The newest backup of each of this many most recent weeks (ISO weeks, from Monday, UTC). */
  weekly: number;
}

const dayOf = (ms: number) => Math.floor(ms / 86_400_000);
// 1970-01-01 was a Thursday: shifting by three days makes each bucket start on a Monday.
const weekOf = (ms: number) => Math.floor((dayOf(ms) + 3) / 7);

/**
 * The backups to delete among `names` (other files are never touched): everything that is neither the
 * newest of one of the last `daily` days, nor the newest of one of the last `weekly` weeks, nor taken
 * within a day of the newest backup (a backup taken by hand before an upgrade outlives that day's next).
 */
export function backupsToDelete(names: string[], retention: Retention): string[] {
  const dated = names
    .map((name) => ({ name, at: backupTime(name) }))
    .filter((b): b is { name: string; at: number } => b.at !== undefined)
    .sort((a, b) => b.at - a.at || b.name.localeCompare(a.name));
  const keep = new Set<string>();
  const pick = (bucket: (ms: number) => number, count: number) => {
    const seen = new Set<number>();
    for (const b of dated) {
      const key = bucket(b.at);
      if (seen.has(key)) continue;
      if (seen.size >= count) break;
      seen.add(key);
      keep.add(b.name);
    }
  };
  pick(dayOf, retention.daily);
  pick(weekOf, retention.weekly);
  const newest = dated[0]?.at ?? 0;
  for (const b of dated) if (newest - b.at < 86_400_000) keep.add(b.name);
  return dated.filter((b) => !keep.has(b.name)).map((b) => b.name);
}
