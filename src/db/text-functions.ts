import { PostgresAdapter, sql, type Expression, type RawBuilder } from 'kysely';
import type { DbOrTx } from './database.js';

/**
 * `expr` lower-cased in SQL as String.prototype.toLowerCase lower-cases it in JavaScript, on either
 * dialect. SQLite's lower() folds ASCII only, so SQLite connections register unicode_lower
 * (sqlite-functions.ts). Postgres's lower() follows the database's LC_CTYPE: Unicode-aware in every
 * UTF-8 locale (the official images' default, and C.UTF-8), ASCII-only in a database created with the
 * plain "C" locale.
 */
export function unicodeLower(db: DbOrTx, expr: Expression<string>): RawBuilder<string> {
  return db.getExecutor().adapter instanceof PostgresAdapter ? sql<string>`lower(${expr})` : sql<string>`unicode_lower(${expr})`;
}
