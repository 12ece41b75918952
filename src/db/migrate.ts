import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PostgresAdapter, sql, type Kysely } from 'kysely';
import { Migrator, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely/migration';
import { PROJECT_ROOT } from '../lib/paths.js';

/**
 * The migrations folder: migrations/ from source (tsx), dist/migrations from the build (whether this
 * module runs from dist/src/db/ or inside the bundle dist/server.js).
 */
export const MIGRATIONS_DIR = import.meta.url.endsWith('.ts') ? path.join(PROJECT_ROOT, 'migrations') : path.join(PROJECT_ROOT, 'dist', 'migrations');

const MIGRATION_FILE = /^\d{4}_\d{2}_\d{2}_\d{4}_[\w-]+\.(js|ts)$/;

/** Loads every dated file in the folder; helpers live in subfolders and are never taken for migrations. */
class FolderMigrationProvider implements MigrationProvider {
  constructor(private readonly dir: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {};
    for (const file of (await fs.readdir(this.dir)).sort()) {
      if (!MIGRATION_FILE.test(file) || file.endsWith('.d.ts')) continue;
      const mod = (await import(pathToFileURL(path.join(this.dir, file)).href)) as Migration;
      migrations[file.replace(/\.(js|ts)$/, '')] = { up: mod.up, down: mod.down };
    }
    return migrations;
  }
}

export function createMigrator(db: Kysely<any>, dir = MIGRATIONS_DIR, migrationTableSchema?: string): Migrator {
  // A migration's number is taken when work on it starts, and work lands in any order: a database that ran
  // 0014 must still take 0013 when it arrives later. Expand/contract migrations never depend on one that is
  // numbered after them (docs/upgrades.md), so running a late one after a later-numbered one is safe.
  return new Migrator({
    db,
    provider: new FolderMigrationProvider(dir),
    allowUnorderedMigrations: true,
    ...(migrationTableSchema ? { migrationTableSchema } : {}),
  });
}

/**
 * On Postgres, the schema our tables go to. Without it Kysely takes a kysely_migration table in *any*
 * schema of the database for its own, then fails on the missing lock table in ours (another app, or
 * another Gazette, sharing the database in a different schema).
 */
async function currentSchema(db: Kysely<any>): Promise<string | undefined> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return undefined;
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  return rows[0]?.schema ?? undefined;
}

export class MigrationError extends Error {
  constructor(
    message: string,
    readonly results: MigrationResultSet['results'],
  ) {
    super(message);
    this.name = 'MigrationError';
  }
}

function check(set: MigrationResultSet, log: (line: string) => void): string[] {
  const applied: string[] = [];
  for (const r of set.results ?? []) {
    log(`migration ${r.migrationName}: ${r.status}`);
    if (r.status === 'Success') applied.push(r.migrationName);
  }
  if (set.error) {
    const cause = set.error instanceof Error ? set.error.message : String(set.error);
    throw new MigrationError(`migration failed: ${cause}`, set.results);
  }
  return applied;
}

// Before running anything, Kysely looks for its own tables by introspecting every schema of a Postgres
// database; that query fails when another session drops a schema, table or column at that moment (another
// app in the database, parallel test files). Nothing has run yet then (no results), so it is tried again.
const RACED_INTROSPECTION = new Set(['3F000', '42P01', '42703', 'XX000']);

async function retryingRacedIntrospection(step: () => Promise<MigrationResultSet>): Promise<MigrationResultSet> {
  for (let attempt = 1; ; attempt++) {
    const set = await step();
    const code = (set.error as { code?: unknown } | undefined)?.code;
    if (set.results !== undefined || typeof code !== 'string' || !RACED_INTROSPECTION.has(code) || attempt >= 5) return set;
  }
}

/** Runs every pending migration; throws (never returns quietly) when one fails. */
export async function migrateToLatest(db: Kysely<any>, log: (line: string) => void = () => {}): Promise<string[]> {
  const schema = await currentSchema(db);
  if (await schemaIsNewer(db, schema, log)) return [];
  const migrator = createMigrator(db, MIGRATIONS_DIR, schema);
  return check(await retryingRacedIntrospection(() => migrator.migrateToLatest()), log);
}

/** The migrations the database has run; none when it has no migration table yet. */
export async function executedMigrationNames(db: Kysely<any>, schema: string | undefined): Promise<string[]> {
  try {
    const rows = await (schema ? db.withSchema(schema) : db).selectFrom('kysely_migration').select('name').execute();
    return rows.map((r) => String(r.name));
  } catch {
    return [];
  }
}

/**
 * True when a newer release has already migrated the database past this one (during a rolling upgrade, an
 * old process restarting; or a rollback to the previous image). Migrations are expand/contract, so this
 * release runs on that schema as it is; Kysely alone would refuse to start ("previously executed migration
 * is missing"). A database that lacks some of this release's migrations as well went down another line of
 * releases: that is refused.
 */
async function schemaIsNewer(db: Kysely<any>, schema: string | undefined, log: (line: string) => void): Promise<boolean> {
  const executed = await executedMigrationNames(db, schema);
  const known = await knownMigrationNames();
  const unknown = executed.filter((name) => !known.includes(name)).sort();
  if (unknown.length === 0) return false;
  const missing = known.filter((name) => !executed.includes(name));
  if (missing.length > 0) {
    throw new MigrationError(
      `migration failed: the database has migrations this release does not know (${unknown.join(', ')}) and lacks some it has (${missing.join(', ')}); it was migrated by another line of releases`,
      [],
    );
  }
  log(`the database schema is newer than this release (it has ${unknown.at(-1)}): starting without migrating, as expand/contract migrations allow`);
  return true;
}

/** Rolls every migration back, newest first (tests and the CLI's `migrate down`). */
export async function migrateDownAll(db: Kysely<any>, log: (line: string) => void = () => {}): Promise<string[]> {
  const migrator = createMigrator(db, MIGRATIONS_DIR, await currentSchema(db));
  const rolled: string[] = [];
  for (;;) {
    const set = await retryingRacedIntrospection(() => migrator.migrateDown());
    rolled.push(...check(set, log));
    if (!set.results || set.results.length === 0) return rolled;
  }
}

/** The migrations this code ships, oldest first, without loading them (a backup's schema must be among them). */
export async function knownMigrationNames(dir = MIGRATIONS_DIR): Promise<string[]> {
  return (await fs.readdir(dir))
    .filter((file) => MIGRATION_FILE.test(file) && !file.endsWith('.d.ts'))
    .sort()
    .map((file) => file.replace(/\.(js|ts)$/, ''));
}

/** The migrations this code knows that the database has not run (readiness: /readyz). */
export async function pendingMigrations(db: Kysely<any>): Promise<string[]> {
  const migrator = createMigrator(db, MIGRATIONS_DIR, await currentSchema(db));
  return (await migrator.getMigrations()).filter((m) => m.executedAt === undefined).map((m) => m.name);
}
