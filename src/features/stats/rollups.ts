import type { Db } from '../../db/database.js';
import * as repo from './rollup-repository.js';

/**
 * The stats job's work: rebuild the roll-ups of every post that had hits since the last refresh (or is
 * still fresh: its delivery, bounce and unsubscribe counts move for a few days), and the newsletters'
 * daily rows since the day of the last refresh. A margin covers hits and events committed a little after
 * the time they carry (the recorder's buffer, another process's transaction). Per-person hits older than
 * a year are made anonymous.
 */

const MARGIN_MS = 5 * 60_000;
const FRESH_MS = 3 * repo.DAY_MS;
const WATERMARK = 'rollups';
/** How long a reader's own opens and clicks stay tied to them; counts are kept. */
export const PERSONAL_HITS_KEPT_MS = 365 * repo.DAY_MS;

export interface RefreshResult {
  posts: number;
}

export async function refreshStats(db: Db, now: number): Promise<RefreshResult> {
  const last = await repo.readWatermark(db, WATERMARK);
  const since = last === undefined ? 0 : last - MARGIN_MS;
  const posts = await repo.postsToRefresh(db, since, now - FRESH_MS);
  for (const postId of posts) {
    // One post at a time, each in its own short transaction: readers see a post's rows all old or all new.
    await db.transaction().execute(async (trx) => {
      await repo.rebuildPostHours(trx, postId);
      await repo.rebuildLinkStats(trx, postId);
      await repo.rebuildPostStats(trx, postId, now);
    });
  }
  await repo.anonymiseHitsBefore(db, now - PERSONAL_HITS_KEPT_MS);
  await db.transaction().execute(async (trx) => {
    await repo.rebuildNewsletterDays(trx, since - (since % repo.DAY_MS));
    await repo.writeWatermark(trx, WATERMARK, now);
  });
  return { posts: posts.length };
}
