import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { backupFileName, backupsToDelete, type Retention } from './retention.js';
import { BackupError, EXIT } from './sqlite-backup.js';

/**
 * Postgres backups through the client tools (pg_dump, pg_restore from postgresql-client), which must be
 * at least the server's major version. The connection goes to them as libpq environment variables, so
 * the password never appears in a process list.
 */

export function libpqEnvironment(url: string): Record<string, string> {
  const u = new URL(url);
  const env: Record<string, string> = {};
  if (u.hostname) env.PGHOST = decodeURIComponent(u.hostname.replace(/^\[|\]$/g, ''));
  if (u.port) env.PGPORT = u.port;
  if (u.username) env.PGUSER = decodeURIComponent(u.username);
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (database) env.PGDATABASE = database;
  const sslmode = u.searchParams.get('sslmode');
  if (sslmode) env.PGSSLMODE = sslmode;
  const options = u.searchParams.get('options');
  if (options) env.PGOPTIONS = options;
  return env;
}

const toolMissing = (tool: string) =>
  new BackupError(
    `${tool} is not installed. Install the PostgreSQL client tools (Debian/Ubuntu: apt-get install postgresql-client; ` +
      `their major version must be at least the server's), or run ${tool} inside the Postgres container (README, "Backups").`,
    EXIT.toolMissing,
  );

/** Throws the "not installed" BackupError (exit code 2) unless `tool` can be run. */
export function requirePgTool(tool: 'pg_dump' | 'pg_restore'): void {
  const probe = spawnSync(tool, ['--version'], { stdio: 'ignore' });
  if ((probe.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw toolMissing(tool);
}

interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runTool(tool: string, args: string[], url: string): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { env: { ...process.env, ...libpqEnvironment(url) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? toolMissing(tool) : err));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface PostgresBackupResult {
  file: string;
  bytes: number;
  deleted: string[];
}

/** pg_dump of Gazette's schema into `dir` as gazette-<UTC time>.pgdump (custom format), then retention. */
export async function backupPostgres(options: { url: string; schema: string; dir: string; now: number; retention: Retention }): Promise<PostgresBackupResult> {
  const { dir } = options;
  await fs.mkdir(dir, { recursive: true });
  const part = path.join(dir, `.backup-${randomBytes(6).toString('hex')}.pgdump.part`);
  try {
    const run = await runTool('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', `--schema=${options.schema}`, `--file=${part}`], options.url);
    if (run.code !== 0) throw new BackupError(`pg_dump failed: ${run.stderr.trim() || `exit code ${run.code}`}`, EXIT.failed);
    let name = backupFileName('postgres', options.now);
    for (let attempt = 1; existsSync(path.join(dir, name)); attempt++) name = backupFileName('postgres', options.now, attempt);
    const file = path.join(dir, name);
    await fs.rename(part, file);
    const { size } = await fs.stat(file);
    const doomed = backupsToDelete(await fs.readdir(dir), options.retention);
    for (const old of doomed) await fs.rm(path.join(dir, old), { force: true });
    return { file, bytes: size, deleted: doomed };
  } finally {
    await fs.rm(part, { force: true });
  }
}

const DUMP_MAGIC = 'PGDMP';

/** The migration names recorded in a dump's kysely_migration table (its schema version). */
async function dumpMigrations(file: string, url: string): Promise<string[]> {
  const run = await runTool('pg_restore', ['--data-only', '--table=kysely_migration', '--file=-', file], url);
  if (run.code !== 0) throw new BackupError(`${file} was refused: pg_restore cannot read it (${run.stderr.trim()})`, EXIT.refusedFile);
  const lines = run.stdout.split('\n');
  const start = lines.findIndex((l) => /^COPY \S*kysely_migration /.test(l));
  if (start < 0) return [];
  const names: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line === '\\.') break;
    names.push(line.split('\t')[0]!);
  }
  return names.sort();
}

/**
 * Restores a pg_dump made by backupPostgres over the database at `url`, after checking it is a Gazette
 * dump whose schema this version knows. The objects in the dump are dropped and recreated in one
 * transaction: a failure leaves the database as it was.
 */
export async function restorePostgres(options: { url: string; file: string; knownMigrations: string[] }): Promise<{ migrations: string[] }> {
  const { file, url } = options;
  if (!existsSync(file)) throw new BackupError(`there is no file ${file}`, EXIT.failed);
  const handle = await fs.open(file, 'r');
  const head = Buffer.alloc(DUMP_MAGIC.length);
  await handle.read(head, 0, head.length, 0).finally(() => handle.close());
  if (head.toString('latin1') !== DUMP_MAGIC) throw new BackupError(`${file} was refused: it is not a pg_dump file in custom format (made by gazette backup or pg_dump -Fc)`, EXIT.refusedFile);
  const migrations = await dumpMigrations(file, url);
  const known = new Set(options.knownMigrations);
  if (migrations[0] !== options.knownMigrations[0]) throw new BackupError(`${file} was refused: it is not a dump of a Gazette database`, EXIT.refusedFile);
  const newer = migrations.filter((m) => !known.has(m));
  if (newer.length > 0) throw new BackupError(`${file} was refused: it was made by a newer version of Gazette (schema ${newer.at(-1)}); upgrade Gazette, then restore it`, EXIT.refusedFile);
  const run = await runTool('pg_restore', ['--clean', '--if-exists', '--no-owner', '--no-privileges', '--single-transaction', '--exit-on-error', `--dbname=${dbnameFor(url)}`, file], url);
  if (run.code !== 0) throw new BackupError(`pg_restore failed (the database is unchanged): ${run.stderr.trim() || `exit code ${run.code}`}`, EXIT.failed);
  return { migrations };
}

/** pg_restore restores only with --dbname; the rest of the connection comes from the environment. */
function dbnameFor(url: string): string {
  return libpqEnvironment(url).PGDATABASE ?? 'postgres';
}
