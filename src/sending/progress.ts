import type { ReadAside } from '../db/connect.js';
import type { DbOrTx } from '../db/database.js';
import type { DeliveryStatus, PostStatus } from '../db/tables/posts.js';
import { NotFoundError } from '../lib/errors.js';
import { countByStatus, findPost, listProblemRecipients, type ProblemRecipient } from './repository.js';
import { DELIVERY_STATUSES } from './states.js';

/** Where a send stands, counted from the deliveries rows (never from a separate counter). */
export interface SendProgress {
  postId: number;
  postStatus: PostStatus;
  pausedReason: string | null;
  heldReason: string | null;
  /** When a relay-level pause is probed again (null for a writer's pause). */
  resumeAt: number | null;
  /** The audience snapshot is still being written. */
  preparing: boolean;
  startedAt: number | null;
  sentAt: number | null;
  /** Rows per delivery status, counted from the table. */
  counts: Record<DeliveryStatus, number>;
  total: number;
  /** queued + claimed: not yet handed to the relay. */
  queued: number;
  /** attempting: being handed to the relay right now. */
  inFlight: number;
  sent: number;
  /** waiting for a retry after a temporary failure. */
  retrying: number;
  failed: number;
  unknown: number;
  skipped: number;
  cancelled: number;
  /** queued + inFlight + retrying. */
  remaining: number;
  /** Sent per second over about the last minute (see SendRates); 0 until it can be told. */
  ratePerSecond: number;
  /** Seconds until the queue is empty at the current rate; null when unknown. */
  etaSeconds: number | null;
  /**
   * Messages a second the relay allows now, as the sender learned it from the relay's rate answers
   * (relay-rate.ts), while this post is sending and the relay has throttled in the last few minutes;
   * null otherwise. Set by the engine that sends (readProgress alone leaves it null).
   */
  relayLimit: number | null;
  /** Whether the page should keep polling (something may still change by itself). */
  live: boolean;
  /** How often a page polls while live (see pollSecondsFor). */
  pollSeconds: number;
  /** The first unknown and failed recipients, for "retry these". */
  problems: ProblemRecipient[];
}

/** The send rate is taken over about the last minute. */
const RATE_WINDOW_MS = 60_000;

/**
 * The send rate from the sent counts earlier readings saw (no index on sent_at to count recent rows by:
 * it would cost every delivery update of every send an entry). Each reading of a post adds one sample;
 * the rate is the sent count's change since the oldest sample of the last minute, so a send that was
 * paused and resumed shows its rate of now, not its average.
 */
export interface SendRates {
  /** Records `sent` for the post at `now`; the rate per second, or undefined when no earlier reading is usable. */
  observe(postId: number, now: number, sent: number): number | undefined;
}

export function createSendRates(): SendRates {
  const samples = new Map<number, Array<{ at: number; sent: number }>>();
  return {
    observe(postId, now, sent) {
      // Posts nobody has looked at for a while are forgotten.
      for (const [id, list] of samples) if (now - list[list.length - 1]!.at > 10 * RATE_WINDOW_MS) samples.delete(id);
      const list = (samples.get(postId) ?? []).filter((s) => now - s.at <= RATE_WINDOW_MS && s.at <= now && s.sent <= sent);
      const oldest = list[0];
      list.push({ at: now, sent });
      samples.set(postId, list.slice(-64));
      return oldest && now - oldest.at >= 1000 ? (sent - oldest.sent) / ((now - oldest.at) / 1000) : undefined;
    },
  };
}

export async function readProgress(db: DbOrTx, postId: number, now: number, aside?: ReadAside, rates?: SendRates): Promise<SendProgress> {
  const post = await findPost(db, postId);
  if (!post) throw new NotFoundError('That post does not exist.');
  const raw = await countByStatus(db, postId, aside);
  const counts = Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, raw[s] ?? 0])) as Record<DeliveryStatus, number>;
  const total = DELIVERY_STATUSES.reduce((n, s) => n + counts[s], 0);
  const remaining = counts.queued + counts.claimed + counts.attempting + counts.retry;
  const sentRate = rates?.observe(postId, now, counts.sent);
  // Before a second reading, a send in its first minute has its average since the start.
  const sinceStart = post.started_at !== null && now - post.started_at <= RATE_WINDOW_MS ? counts.sent / (Math.max(1000, now - post.started_at) / 1000) : 0;
  const ratePerSecond = post.status === 'sending' ? (sentRate ?? sinceStart) : 0;
  const preparing = (post.status === 'sending' || post.status === 'paused') && post.audience_frozen_at === null;
  return {
    postId,
    postStatus: post.status,
    pausedReason: post.paused_reason,
    heldReason: post.held_reason,
    resumeAt: post.resume_at,
    preparing,
    startedAt: post.started_at,
    sentAt: post.sent_at,
    counts,
    total,
    queued: counts.queued + counts.claimed,
    inFlight: counts.attempting,
    sent: counts.sent,
    retrying: counts.retry,
    failed: counts.failed,
    unknown: counts.unknown,
    skipped: counts.skipped,
    cancelled: counts.cancelled,
    remaining,
    ratePerSecond,
    etaSeconds: ratePerSecond > 0 && !preparing ? Math.ceil(remaining / ratePerSecond) : null,
    relayLimit: null,
    pollSeconds: pollSecondsFor(total),
    live: post.status === 'sending' || (post.status === 'paused' && post.resume_at !== null) || (post.status === 'cancelled' && counts.attempting > 0),
    problems: counts.unknown + counts.failed > 0 ? await listProblemRecipients(db, postId, 100) : [],
  };
}

/**
 * Counting a post's rows by status is linear in its audience (~100 ms on SQLite at 1,000,000, on the
 * checkpoint thread when it runs; ~0.5 s of Postgres): an open page polls big sends less often, so
 * watching one costs about 1% of the database's time instead of 6% or more.
 */
export function pollSecondsFor(total: number): number {
  return total >= 500_000 ? 10 : total >= 100_000 ? 5 : 2;
}
