import type { DbOrTx } from '../db/database.js';
import { sha256Hex } from '../lib/tokens.js';

/**
 * The links of a post that tracking rewrote, one row per distinct URL. Shared by the sending engine (which
 * stores them when it compiles the post) and the click route (which redirects only to a stored URL). Rows
 * are never changed: a post edited between two sends adds rows, so every token already mailed still leads
 * where it did.
 */

const CHUNK = 200;

export async function saveTrackedLinks(db: DbOrTx, postId: number, urls: string[], now: number): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (let i = 0; i < urls.length; i += CHUNK) {
    const chunk = urls.slice(i, i + CHUNK).map((url) => ({ url, hash: sha256Hex(url) }));
    await db
      .insertInto('tracked_links')
      .values(chunk.map((c) => ({ post_id: postId, url: c.url, url_hash: c.hash, created_at: now })))
      .onConflict((oc) => oc.columns(['post_id', 'url_hash']).doNothing())
      .execute();
    const rows = await db
      .selectFrom('tracked_links')
      .select(['id', 'url'])
      .where('post_id', '=', postId)
      .where('url_hash', 'in', chunk.map((c) => c.hash))
      .execute();
    for (const r of rows) ids.set(r.url, Number(r.id));
  }
  return ids;
}

export async function findTrackedLink(db: DbOrTx, id: number): Promise<{ postId: number; url: string } | undefined> {
  const row = await db.selectFrom('tracked_links').select(['post_id', 'url']).where('id', '=', id).executeTakeFirst();
  return row ? { postId: Number(row.post_id), url: row.url } : undefined;
}
