import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { startWorker } from '../lib/worker-thread.js';
import { backupFileName, backupsToDelete, utcStamp, type Retention } from './retention.js';
import { checkDatabaseFile, takeForRestore, type BackupManifest } from './sqlite-file-repository.js';

/** A backup or restore that cannot go on; `exitCode` is what the CLI exits with (README, "Backups"). */
export class BackupError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'BackupError';
  }
}

/** Exit codes of `backup` and `restore`, documented in the README. */
export const EXIT = { failed: 1, toolMissing: 2, inUse: 3, refusedFile: 4 } as const;

export interface SqliteBackupResult {
  file: string;
  bytes: number;
  manifest: BackupManifest;
  /** Older backups removed by the retention rule. */
  deleted: string[];
}

async function fsyncPath(p: string): Promise<void> {
  const handle = await fs.open(p, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function copyInWorker(source: string, dest: string): Promise<BackupManifest> {
  return new Promise((resolve, reject) => {
    const worker = startWorker(import.meta.url, 'sqlite-backup-worker', { source, dest });
    let answered = false;
    worker.once('message', (msg: { ok: true; manifest: BackupManifest } | { ok: false; problem: string }) => {
      answered = true;
      if (msg.ok) resolve(msg.manifest);
      else reject(new BackupError(`backup failed: ${msg.problem}`, EXIT.failed));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (!answered) reject(new BackupError(`backup failed: the backup thread stopped (exit code ${code})`, EXIT.failed));
    });
  });
}

async function unusedName(dir: string, at: number, label: string | undefined): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const plain = backupFileName('sqlite', at, attempt);
    const name = label ? plain.replace(/\.sqlite\.gz$/, `-${label}.sqlite.gz`) : plain;
    if (!existsSync(path.join(dir, name))) return name;
  }
}

/** Deletes the backups in `dir` that the retention rule no longer keeps; returns their names. */
export async function pruneBackups(dir: string, retention: Retention): Promise<string[]> {
  const doomed = backupsToDelete(await fs.readdir(dir), retention);
  for (const name of doomed) await fs.rm(path.join(dir, name), { force: true });
  return doomed;
}

/**
 * Writes a consistent, checked, compressed copy of the SQLite database `databaseFile` into `dir` as
 * gazette-<UTC time>.sqlite.gz, while the server keeps writing; then applies the retention rule. A
 * backup only appears under its final name once it is complete, checked and on disk. With a `label`
 * (gazette-<time>-<label>.sqlite.gz) the retention rule never removes it.
 */
export async function backupSqlite(options: { databaseFile: string; dir: string; now: number; retention: Retention; label?: string }): Promise<SqliteBackupResult> {
  const { databaseFile, dir } = options;
  if (!existsSync(databaseFile)) throw new BackupError(`there is no database at ${databaseFile} to back up`, EXIT.failed);
  await fs.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.backup-${randomBytes(6).toString('hex')}.sqlite`);
  const part = `${tmp}.gz.part`;
  try {
    const manifest = await copyInWorker(databaseFile, tmp);
    await pipeline(createReadStream(tmp), createGzip(), createWriteStream(part));
    await fsyncPath(part);
    const name = await unusedName(dir, options.now, options.label);
    const file = path.join(dir, name);
    await fs.rename(part, file);
    await fsyncPath(dir);
    const { size } = await fs.stat(file);
    const deleted = await pruneBackups(dir, options.retention);
    return { file, bytes: size, manifest, deleted };
  } finally {
    await fs.rm(tmp, { force: true });
    await fs.rm(`${tmp}-journal`, { force: true });
    await fs.rm(part, { force: true });
  }
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

async function startsWith(file: string, magic: Buffer): Promise<boolean> {
  const handle = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(magic.length);
    const { bytesRead } = await handle.read(buf, 0, magic.length, 0);
    return bytesRead === magic.length && buf.equals(magic);
  } finally {
    await handle.close();
  }
}

export interface SqliteRestoreResult {
  manifest: BackupManifest;
  /** Where the database that was replaced now is (undefined when there was none). */
  preRestore: string | undefined;
}

/** Unpacks `backupFile` (compressed or not) next to the database and checks it is one Gazette can run. */
async function unpackChecked(backupFile: string, databaseFile: string, knownMigrations: string[]): Promise<{ tmp: string; manifest: BackupManifest }> {
  const tmp = path.join(path.dirname(databaseFile), `.restore-${randomBytes(6).toString('hex')}.sqlite`);
  try {
    if (await startsWith(backupFile, GZIP_MAGIC)) {
      await pipeline(createReadStream(backupFile), createGunzip(), createWriteStream(tmp)).catch((err: Error) => {
        throw new BackupError(`${backupFile} was refused: it is not a readable gzip file (${err.message})`, EXIT.refusedFile);
      });
    } else {
      await fs.copyFile(backupFile, tmp);
    }
    const check = checkDatabaseFile(tmp, { selfContained: true });
    if (!check.ok) throw new BackupError(`${backupFile} was refused: ${check.problem}`, EXIT.refusedFile);
    const { migrations } = check.manifest;
    const known = new Set(knownMigrations);
    const newer = migrations.filter((m) => !known.has(m));
    if (migrations.length === 0 || migrations[0] !== knownMigrations[0]) {
      throw new BackupError(`${backupFile} was refused: it is not a Gazette database (its migrations are not Gazette's)`, EXIT.refusedFile);
    }
    if (newer.length > 0) {
      throw new BackupError(
        `${backupFile} was refused: it was made by a newer version of Gazette (schema ${newer.at(-1)}); upgrade Gazette, then restore it`,
        EXIT.refusedFile,
      );
    }
    await fsyncPath(tmp);
    return { tmp, manifest: check.manifest };
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Replaces the SQLite database `databaseFile` by the backup `backupFile`, after checking the backup is
 * a sound Gazette database this version knows (an older schema is fine: the server migrates it at
 * start), and only when no process has the database open. The replaced database is kept as
 * `<database>.pre-restore` (an older one of those under its time).
 */
export async function restoreSqlite(options: { databaseFile: string; backupFile: string; knownMigrations: string[]; now: number }): Promise<SqliteRestoreResult> {
  const { databaseFile, backupFile } = options;
  if (!existsSync(backupFile)) throw new BackupError(`there is no file ${backupFile}`, EXIT.failed);
  await fs.mkdir(path.dirname(databaseFile), { recursive: true });
  const { tmp, manifest } = await unpackChecked(backupFile, databaseFile, options.knownMigrations);
  try {
    let preRestore: string | undefined;
    if (existsSync(databaseFile)) {
      if (!takeForRestore(databaseFile)) {
        throw new BackupError(`${databaseFile} is in use: stop Gazette first (docker compose stop gazette), then restore`, EXIT.inUse);
      }
      preRestore = `${databaseFile}.pre-restore`;
      if (existsSync(preRestore)) await fs.rename(preRestore, `${preRestore}-${utcStamp(options.now)}`);
      await fs.rename(databaseFile, preRestore);
    }
    for (const leftover of [`${databaseFile}-wal`, `${databaseFile}-shm`, `${databaseFile}-journal`]) await fs.rm(leftover, { force: true });
    try {
      await fs.rename(tmp, databaseFile);
    } catch (err) {
      // The database must not stay moved aside: put it back, then report.
      if (preRestore) await fs.rename(preRestore, databaseFile).catch(() => undefined);
      throw err;
    }
    await fsyncPath(path.dirname(databaseFile));
    return { manifest, preRestore };
  } finally {
    await fs.rm(tmp, { force: true });
  }
}
