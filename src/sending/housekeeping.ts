import { ConflictError } from '../lib/errors.js';
import type { Db, Dialect } from '../db/database.js';
import type { Clock } from '../lib/clock.js';
import { backoff, type EngineLog, type EngineOptions } from './options.js';
import { holdLease, liveLeaseOwners } from './lease-repository.js';
import { recoverOrphans } from './delivery-transitions.js';
import { extendRelayPause, finishSentPosts, holdScheduledPost, resumeAfterProbe } from './post-transitions.js';
import { dueRelayPauses, dueScheduledPosts, postsInFlight, unfrozenSends } from './repository.js';
import type { BulkTransport } from './transport.js';

/**
 * The engine's periodic chores (`run`): recovering the rows of senders that died, probing the relay for
 * posts paused by relay trouble, starting scheduled posts (or holding those missed by too much), finishing
 * interrupted snapshots. Every process renews its own "sender:<id>" lease (`heartbeat`), which tells the
 * others it is alive.
 */

export interface HousekeeperDeps {
  db: Db;
  dialect: Dialect;
  clock: Clock;
  options: EngineOptions;
  owner: string;
  scheduleMaxLatenessMs: number;
  transport: BulkTransport;
  log: EngineLog;
  startPost(postId: number): Promise<void>;
  snapshot(postId: number, maxPages?: number): Promise<void>;
  wake(): void;
  /** A post was sent to everyone (its compiled message can go). */
  finished(postId: number): void;
}

export function createHousekeeper(d: HousekeeperDeps) {
  const { db, dialect, clock, options, owner, transport, log } = d;

  /** sending → sent once the audience is frozen and no row has work left; one statement, so no race. */
  async function finishPosts(): Promise<number> {
    const finished = await finishSentPosts(db, clock.now());
    for (const id of finished) {
      d.finished(id);
      log.info({ postId: id }, 'post sent to every recipient');
    }
    return finished.length;
  }

  async function recover(liveOwners: string[]): Promise<number> {
    // Every send in progress, and those cancelled in the last week (their last messages may be in flight).
    const ids = await postsInFlight(db, clock.now() - 7 * 24 * 3600_000);
    const { requeued, unknown } = await recoverOrphans(db, ids, liveOwners, clock.now());
    if (requeued + unknown > 0) log.warn({ requeued, unknown }, 'recovered deliveries of a sender that stopped');
    return requeued + unknown;
  }

  async function startDueSchedules(): Promise<number> {
    const now = clock.now();
    const due = await dueScheduledPosts(db, now);
    for (const post of due) {
      const late = now - (post.scheduled_at ?? now);
      if (late > d.scheduleMaxLatenessMs) {
        const minutes = Math.round(late / 60_000);
        const reason = `This post was scheduled ${minutes} minutes ago, but Gazette was not running then. Send it now or reschedule it.`;
        await holdScheduledPost(db, post.id, reason, now);
        log.warn({ postId: post.id, lateMinutes: minutes }, 'scheduled post missed: held for the writer');
        continue;
      }
      try {
        await d.startPost(post.id);
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        log.warn({ postId: post.id, err }, 'scheduled post could not start');
      }
    }
    return due.length;
  }

  /** Relay-level pauses whose backoff is over: probe the relay, resume or wait longer. */
  async function resumeRelayPauses(): Promise<number> {
    const now = clock.now();
    const due = await dueRelayPauses(db, now);
    if (due.length === 0) return 0;
    const probe = await transport.probe();
    for (const post of due) {
      if (probe.ok) {
        await resumeAfterProbe(db, post.id, now);
        log.info({ postId: post.id }, 'relay answers again: send resumed');
      } else {
        const failures = post.relay_failures + 1;
        await extendRelayPause(
          db,
          post.id,
          {
            resumeAt: now + backoff(failures, options.relayBackoffBaseMs, options.relayBackoffMaxMs),
            relayFailures: failures,
            reason: `The mail relay is not accepting mail (${probe.error}). Gazette will try again by itself; no recipient was marked failed.`,
          },
          now,
        );
      }
    }
    if (probe.ok) d.wake();
    return due.length;
  }

  async function unfinishedSnapshots(): Promise<number> {
    const ids = await unfrozenSends(db);
    // A few pages here; the rest is written in the background while the send goes on, so a big audience
    // does not hold the first message back.
    for (const id of ids) await d.snapshot(id, options.snapshotWaitPages);
    return ids.length;
  }

  // The lease is renewed a few times per TTL, not on every pass: each renewal is a durable write.
  let renewedAt = -Infinity;

  /** Tells the other processes this sender is alive; every sending process calls it, leader or not. */
  async function heartbeat(): Promise<void> {
    const now = clock.now();
    if (now - renewedAt < options.leaseTtlMs / 3) return;
    await holdLease(db, `sender:${owner}`, owner, now, options.leaseTtlMs);
    renewedAt = now;
  }

  /**
   * The chores. The job registry runs them in one process at a time (src/jobs/sending-jobs.ts); each
   * change is a conditional update besides, so two processes running them at once start nothing twice.
   * Returns how many posts or recipients the pass acted on (0: there was nothing to do).
   */
  async function housekeeping(): Promise<number> {
    await heartbeat();
    let acted = dialect === 'postgres' ? await recover(await liveLeaseOwners(db, 'sender:', clock.now())) : 0;
    acted += await resumeRelayPauses();
    acted += await startDueSchedules();
    acted += await unfinishedSnapshots();
    acted += await finishPosts();
    return acted;
  }

  return { run: housekeeping, heartbeat, finishPosts, recover };
}
