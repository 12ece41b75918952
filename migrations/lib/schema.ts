import type { ColumnDefinitionBuilder, Kysely } from 'kysely';

/**
 * The few places where the dialects really differ in DDL. Migrations are frozen in time: they import
 * nothing from src/, only this helper folder (which the migrator does not treat as a migration).
 */

/**
 * Told by the adapter's own answer, not its class: the server bundles kysely while these files are loaded
 * from dist/migrations at run time, so a class imported here would be another copy (scripts/bundle.mjs).
 * Of the two dialects Gazette runs on, only Postgres has transactional DDL.
 */
export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter.supportsTransactionalDdl === true;
}

/** An auto-incrementing integer primary key on either dialect. */
export function idColumn(db: Kysely<any>) {
  return (col: ColumnDefinitionBuilder) =>
    isPostgres(db) ? col.primaryKey().generatedByDefaultAsIdentity() : col.primaryKey().autoIncrement();
}
