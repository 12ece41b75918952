import { PostgresAdapter, sql, type RawBuilder } from 'kysely';
import type { DbOrTx } from '../../db/database.js';

export type BulkType = 'text' | 'bigint';

/**
 * A batch's rows as ONE bound parameter, to read from like a table named `v`: a JSON array of rows
 * through json_each on SQLite, one array per column through unnest on Postgres. The statement text is
 * then the same for any number of rows, so it is prepared once and reused (see withStatementCache)
 * rather than once per row count: a prepared 500-row VALUES list takes about half a megabyte, the cache
 * keeps up to 200 statements, and an import's batches come in every size. No row count can reach
 * SQLite's limit on bound variables either. The dialect is read from `db` itself.
 */
export function bulkRows(db: DbOrTx, columns: Record<string, BulkType>, rows: readonly (readonly unknown[])[]): RawBuilder<unknown> {
  const names = Object.keys(columns);
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    const arrays = names.map((name, i) => sql`${rows.map((r) => r[i] ?? null)}::${sql.raw(columns[name]!)}[]`);
    return sql`unnest(${sql.join(arrays)}) as v(${sql.join(names.map((n) => sql.id(n)))})`;
  }
  const fields = names.map((name, i) => sql`json_extract(value, ${sql.lit(`$[${i}]`)}) as ${sql.id(name)}`);
  return sql`(select ${sql.join(fields)} from json_each(${JSON.stringify(rows)})) as v`;
}

/** One column of values, for `where x in (select value from …)`. */
export function bulkValues(db: DbOrTx, type: BulkType, values: readonly unknown[]): RawBuilder<unknown> {
  return bulkRows(db, { value: type }, values.map((v) => [v]));
}
