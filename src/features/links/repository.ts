import type { DbOrTx } from '../../db/database.js';
import type { LinkCheckRow, NewLinkCheckRow } from '../../db/tables/link-checks.js';

/** The cached checks of these URL hashes (absent ones were never checked, or were pruned). */
export async function findLinkChecks(db: DbOrTx, hashes: string[]): Promise<LinkCheckRow[]> {
  if (hashes.length === 0) return [];
  const rows: LinkCheckRow[] = [];
  // Chunks keep each statement under SQLite's bound-parameter limit for very long drafts.
  for (let i = 0; i < hashes.length; i += 500) {
    rows.push(...(await db.selectFrom('link_checks').selectAll().where('url_hash', 'in', hashes.slice(i, i + 500)).execute()));
  }
  return rows;
}

/** Records a check, replacing the previous one of the same URL. */
export async function saveLinkCheck(db: DbOrTx, row: NewLinkCheckRow): Promise<void> {
  const { url_hash: _hash, ...changes } = row;
  await db
    .insertInto('link_checks')
    .values(row)
    .onConflict((oc) => oc.column('url_hash').doUpdateSet(changes))
    .execute();
}

/** Posts scheduled to go out by `until`, soonest first: their links are re-checked before they do. */
export async function scheduledPostIdsUntil(db: DbOrTx, until: number): Promise<number[]> {
  const rows = await db
    .selectFrom('posts')
    .select('id')
    .where('status', '=', 'scheduled')
    .where('scheduled_at', '<=', until)
    .orderBy('scheduled_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => r.id);
}

/** Forgets checks that expired before `before`; returns how many went. */
export async function deleteLinkChecksExpiredBefore(db: DbOrTx, before: number): Promise<number> {
  const result = await db.deleteFrom('link_checks').where('expires_at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}
