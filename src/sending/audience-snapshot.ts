import type { Db, Dialect } from '../db/database.js';
import { refreshStatistics } from '../db/statistics.js';
import type { Clock } from '../lib/clock.js';
import { parseAudience } from './audience-repository.js';
import { messageIdDomain, type CompileSettings } from './message.js';
import type { EngineLog, EngineOptions } from './options.js';
import { findPost, findPostNewsletter, freezeAudience, snapshotAudience } from './repository.js';

export interface AudienceSnapshotDeps {
  db: Db;
  dialect: Dialect;
  clock: Clock;
  options: EngineOptions;
  settings: CompileSettings;
  log: EngineLog;
  /** A page of recipients was written: the send loop may have run out of rows before it. */
  pageWritten(): void;
  /** The snapshot stopped (done, paused for the background, or failed). */
  settled(): void;
}

/**
 * Writes a post's audience into deliveries (idempotent, resumable), then freezes it. With `maxPages`,
 * returns after that many pages and finishes in the background: a big list does not hold up the
 * writer's request, and sending already starts on the first pages.
 */
export type AudienceSnapshot = (postId: number, maxPages?: number) => Promise<void>;

export function createAudienceSnapshot(d: AudienceSnapshotDeps): AudienceSnapshot {
  const { db, dialect, clock, options, log } = d;
  /** Posts whose snapshot is being written: a second call for one of them returns at once. */
  const preparing = new Set<number>();

  async function snapshot(postId: number, maxPages?: number): Promise<void> {
    if (preparing.has(postId)) return;
    preparing.add(postId);
    let rest = false;
    try {
      const post = await findPost(db, postId);
      if (!post || post.audience_frozen_at !== null || (post.status !== 'sending' && post.status !== 'paused')) return;
      const newsletter = await findPostNewsletter(db, post);
      const { inserted, done } = await snapshotAudience(db, {
        postId,
        newsletterId: post.newsletter_id,
        audience: parseAudience(post.audience, post.audience_tier),
        dialect,
        domain: messageIdDomain(newsletter, d.settings),
        now: clock.now(),
        pageSize: options.snapshotPageSize,
        maxPages,
        // Pages are synchronous work on SQLite. In the background, rest as long as each page took, so
        // the snapshot takes at most half of the main thread and requests and the send loop run in
        // between; the first pages, which the writer's request waits for, go without rests.
        between: (pageMs) => {
          d.pageWritten();
          if (maxPages !== undefined) return new Promise<void>((resolve) => setImmediate(resolve));
          return new Promise<void>((resolve) => setTimeout(resolve, Math.min(pageMs, 100)));
        },
      });
      // Postgres plans the claim and marker statements from table statistics: right after a snapshot of
      // thousands of rows they are missing (see refreshStatistics). Only stale tables are analyzed.
      if (dialect === 'postgres' && inserted > 0) await refreshStatistics(db, ['deliveries', 'subscriptions', 'subscribers', 'suppressions']);
      if (!done) {
        rest = true;
        return;
      }
      await freezeAudience(db, postId, clock.now());
      log.info({ postId, recipients: inserted }, 'audience snapshot written');
    } finally {
      preparing.delete(postId);
      d.settled();
      if (rest) setImmediate(() => void snapshot(postId).catch((err: unknown) => log.error({ err, postId }, 'audience snapshot failed; it resumes at the next housekeeping')));
    }
  }

  return snapshot;
}
