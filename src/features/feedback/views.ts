import type { Db } from '../../db/database.js';
import type { FeedbackReportRow } from '../../db/tables/feedback.js';
import { recordEvent } from '../../domain/events.js';
import { emailHash, suppress } from '../../domain/suppressions.js';
import type { Clock } from '../../lib/clock.js';
import { isValidEmail, normalizeEmail } from '../../lib/email.js';
import { NotFoundError } from '../../lib/errors.js';
import { WARN_COMPLAINT_RATE, WARN_HARD_BOUNCE_RATE } from './policy.js';
import * as repo from './repository.js';

const PAGE = 50;
/** The dashboard looks at posts started in the last 30 days. */
const WARN_WINDOW_MS = 30 * 86_400_000;

export interface PostWarning {
  postId: number;
  subject: string;
  sent: number;
  hard: number;
  complaints: number;
  hardRate: number;
  complaintRate: number;
  message: string;
}

const percent = (rate: number) => `${(rate * 100).toFixed(rate < 0.01 ? 2 : 1)}%`;

/** What the writer sees of the feedback: suppressions, reports, per-post counts and warnings. */
export function createFeedbackViews(deps: { db: Db; clock: Clock }) {
  const { db, clock } = deps;

  /** A full address searched for also finds a suppression whose subscriber was erased (by its hash). */
  const hashOfQuery = (q: string) => (isValidEmail(q) ? emailHash(normalizeEmail(q)) : null);

  return {
    async suppressions(filter: repo.SuppressionFilter, before: { createdAt: number; hash: string } | null, limit = PAGE) {
      const rows = await repo.listSuppressions(db, filter, hashOfQuery(filter.q), before, limit + 1);
      const more = rows.length > limit;
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return { rows: page, next: more && last ? { createdAt: last.created_at, hash: last.email_hash } : null, sources: await repo.suppressionSources(db) };
    },

    exportSuppressions: (filter: repo.SuppressionFilter) => repo.allSuppressions(db, filter, hashOfQuery(filter.q)),

    async suppression(hash: string) {
      const row = await repo.findSuppression(db, hash);
      if (!row) throw new NotFoundError('That address is not suppressed (any more).');
      return row;
    },

    /** Lets Gazette mail the address again; logged as an event on the subscriber (when there is one). */
    async removeSuppression(hash: string, by: string): Promise<repo.SuppressionListRow> {
      const now = clock.now();
      return db.transaction().execute(async (trx) => {
        const row = await repo.findSuppression(trx, hash);
        if (!row || !(await repo.deleteSuppression(trx, hash))) throw new NotFoundError('That address is not suppressed (any more).');
        await recordEvent(trx, {
          type: 'unsuppressed',
          at: now,
          subscriberId: row.subscriber_id,
          data: { reason: row.reason, source: row.source, detail: row.detail.slice(0, 200), by },
        });
        return row;
      });
    },

    /**
     * Blocks an address by hand (the writer or the API): Gazette mails it no more. An address already
     * suppressed keeps its first reason; `created` says whether this call added it.
     */
    async addSuppression(email: string, detail: string, source: 'admin' | 'api', by: string): Promise<{ row: repo.SuppressionListRow; created: boolean }> {
      const now = clock.now();
      const hash = emailHash(email);
      return db.transaction().execute(async (trx) => {
        const created = await suppress(trx, email, 'blocked', now, detail, source);
        const row = (await repo.findSuppression(trx, hash))!;
        if (created) {
          await recordEvent(trx, { type: 'suppressed', at: now, subscriberId: row.subscriber_id, data: { reason: 'blocked', source, detail: detail.slice(0, 200), by } });
        }
        return { row, created };
      });
    },

    async reports(filter: repo.ReportFilter) {
      const rows = await repo.listReports(db, filter, PAGE + 1);
      const more = rows.length > PAGE;
      const page = rows.slice(0, PAGE);
      return { rows: page, nextBefore: more ? page[page.length - 1]!.id : null, unmatched: await repo.countUnmatched(db) };
    },

    async report(id: number) {
      const row = await repo.findReport(db, id);
      if (!row) throw new NotFoundError('There is no report with that number.');
      return row;
    },

    /** Bounced and complained counts of a post with the most frequent reasons. */
    async postFeedback(postId: number) {
      const post = await repo.findPostSubject(db, postId);
      if (!post) throw new NotFoundError('There is no post with that number. It may have been deleted.');
      const [kinds, reasons, sent, refused] = await Promise.all([
        repo.postKindCounts(db, postId),
        repo.postReasons(db, postId, 20),
        repo.sentCount(db, postId),
        repo.refusedWhileSending(db, postId, 10),
      ]);
      const count = (k: FeedbackReportRow['kind']) => kinds.find((c) => c.kind === k)?.n ?? 0;
      return {
        post,
        sent,
        counts: { hard: count('hard_bounce'), soft: count('soft_bounce'), complaints: count('complaint'), unsubscribes: count('unsubscribe') },
        reasons,
        refused: { total: refused.reduce((sum, r) => sum + r.n, 0), reasons: refused },
      };
    },

    /** Posts of the last 30 days whose complaint rate passed 0.1% or hard-bounce rate passed 2%. */
    async warnings(): Promise<PostWarning[]> {
      const posts = await repo.recentPostRates(db, clock.now() - WARN_WINDOW_MS);
      return posts.flatMap((p) => {
        const sent = Math.max(p.sent, 1);
        const hardRate = p.hard / sent;
        const complaintRate = p.complaints / sent;
        const parts = [
          ...(complaintRate > WARN_COMPLAINT_RATE ? [`${percent(complaintRate)} of recipients marked it as spam (keep it under 0.1%)`] : []),
          ...(hardRate > WARN_HARD_BOUNCE_RATE ? [`${percent(hardRate)} hard-bounced (keep it under 2%)`] : []),
        ];
        if (parts.length === 0) return [];
        return [{ postId: p.id, subject: p.subject, sent: p.sent, hard: p.hard, complaints: p.complaints, hardRate, complaintRate, message: parts.join('; ') }];
      });
    },
  };
}
