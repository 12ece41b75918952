import { sql } from 'kysely';
import type { DbOrTx } from './database.js';

/**
 * Postgres plans from table statistics, which autovacuum refreshes in its own time (and never where it
 * is turned off). Right after thousands of rows are written (an audience snapshot, an import) they can be
 * far off: the send loop's marker update was once planned to take seconds per batch (3.7 s for 20 rows at
 * 5,000 recipients).
 *
 * Analyzes those of `tables` whose statistics are stale, judged as autovacuum judges them: never
 * analyzed, more than 50 + 10% of their rows changed since, or grown on disk by more than a tenth (the
 * file's size is exact at once, where the change counters arrive from other connections up to seconds
 * later). Tables already analyzed are left alone: analyzing 100,000 subscribers is ~250 ms of Postgres,
 * and it was paid twice per send. Postgres only. Returns the tables analyzed, in the order given.
 */
export async function refreshStatistics(db: DbOrTx, tables: readonly string[]): Promise<string[]> {
  if (tables.length === 0) return [];
  const { rows } = await sql<{ name: string }>`
    select c.relname as name
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace and n.nspname = current_schema()
    left join pg_stat_user_tables t on t.relid = c.oid
    where c.relkind = 'r' and c.relname in (${sql.join(tables)})
      and (c.reltuples < 0
           or coalesce(t.n_mod_since_analyze, 0) > 50 + 0.1 * greatest(c.reltuples, 0)
           or pg_relation_size(c.oid) > 1.1 * c.relpages * current_setting('block_size')::bigint + 65536)`.execute(db);
  const stale = new Set(rows.map((r) => r.name));
  const names = tables.filter((t) => stale.has(t));
  if (names.length > 0) await sql`analyze ${sql.join(names.map((name) => sql.id(name)))}`.execute(db);
  return names;
}
