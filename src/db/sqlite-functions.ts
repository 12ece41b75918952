import type SqliteDatabase from 'better-sqlite3';

/**
 * SQL functions every SQLite connection to the database registers (the main one, and the checkpoint
 * thread's, which runs statements handed to it), so a statement runs the same wherever it runs. This
 * file imports no query builder: the checkpoint thread's bundle stays small.
 *
 * unicode_lower: SQLite's own lower() and LIKE fold ASCII only ("É" stays "É"); this folds as
 * JavaScript does (see unicodeLower in text-functions.ts). Deterministic, so SQLite may use it in an
 * index expression and evaluate it once per distinct value.
 */
export function registerSqliteFunctions(sqlite: SqliteDatabase.Database): void {
  sqlite.function('unicode_lower', { deterministic: true }, (value: unknown) => (typeof value === 'string' ? value.toLowerCase() : value));
}
