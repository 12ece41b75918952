import { ConflictError } from '../lib/errors.js';
import type { Db, Dialect } from '../db/database.js';
import type { Clock } from '../lib/clock.js';
import { backoff, type EngineLog, type EngineOptions } from './options.js';
import { holdLease, liveLeaseOwners } from './leases.js';
import { OPEN_STATES, recoverOrphans } from './repository.js';
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
  async function finishPosts(): Promise<void> {
    const now = clock.now();
    const done = await db
      .updateTable('posts')
      .set((eb) => ({ status: 'sent', sent_at: eb.fn.coalesce('sent_at', eb.val(now)), updated_at: now }))
      .where('status', '=', 'sending')
      .where('audience_frozen_at', 'is not', null)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('deliveries as d')
              .select('d.id')
              .whereRef('d.post_id', '=', 'posts.id')
              .where('d.status', 'in', OPEN_STATES),
          ),
        ),
      )
      .returning('id')
      .execute();
    for (const { id } of done) {
      d.finished(id);
      log.info({ postId: id }, 'post sent to every recipient');
    }
  }

  /** Posts that may have rows in flight: every send in progress, and recently cancelled ones. */
  const postsInFlight = async () =>
    (
      await db
        .selectFrom('posts')
        .select('id')
        .where((eb) =>
          eb.or([
            eb('status', 'in', ['sending', 'paused']),
            eb.and([eb('status', '=', 'cancelled'), eb('updated_at', '>=', clock.now() - 7 * 24 * 3600_000)]),
          ]),
        )
        .execute()
    ).map((r) => r.id);

  async function recover(liveOwners: string[]): Promise<void> {
    const ids = await postsInFlight();
    const { requeued, unknown } = await recoverOrphans(db, ids, liveOwners, clock.now());
    if (requeued + unknown > 0) log.warn({ requeued, unknown }, 'recovered deliveries of a sender that stopped');
  }

  async function startDueSchedules(): Promise<void> {
    const now = clock.now();
    const due = await db
      .selectFrom('posts')
      .select(['id', 'scheduled_at'])
      .where('status', '=', 'scheduled')
      .where('scheduled_at', '<=', now)
      .where('held_reason', 'is', null)
      .execute();
    for (const post of due) {
      const late = now - (post.scheduled_at ?? now);
      if (late > d.scheduleMaxLatenessMs) {
        const minutes = Math.round(late / 60_000);
        await db
          .updateTable('posts')
          .set({
            held_reason: `This post was scheduled ${minutes} minutes ago, but Gazette was not running then. Send it now or reschedule it.`,
            updated_at: now,
          })
          .where('id', '=', post.id)
          .where('status', '=', 'scheduled')
          .execute();
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
  }

  /** Relay-level pauses whose backoff is over: probe the relay, resume or wait longer. */
  async function resumeRelayPauses(): Promise<void> {
    const now = clock.now();
    const due = await db
      .selectFrom('posts')
      .select(['id', 'relay_failures'])
      .where('status', '=', 'paused')
      .where('resume_at', 'is not', null)
      .where('resume_at', '<=', now)
      .execute();
    if (due.length === 0) return;
    const probe = await transport.probe();
    for (const post of due) {
      if (probe.ok) {
        await db
          .updateTable('posts')
          .set({ status: 'sending', paused_reason: null, resume_at: null, updated_at: now })
          .where('id', '=', post.id)
          .where('status', '=', 'paused')
          .where('resume_at', 'is not', null)
          .execute();
        log.info({ postId: post.id }, 'relay answers again: send resumed');
      } else {
        const failures = post.relay_failures + 1;
        await db
          .updateTable('posts')
          .set({
            resume_at: now + backoff(failures, options.relayBackoffBaseMs, options.relayBackoffMaxMs),
            relay_failures: failures,
            paused_reason: `The mail relay is not accepting mail (${probe.error}). Gazette will try again by itself; no recipient was marked failed.`.slice(0, 1000),
            updated_at: now,
          })
          .where('id', '=', post.id)
          .where('status', '=', 'paused')
          .where('resume_at', 'is not', null)
          .execute();
      }
    }
    if (probe.ok) d.wake();
  }

  async function unfinishedSnapshots(): Promise<void> {
    const rows = await db.selectFrom('posts').select('id').where('status', 'in', ['sending', 'paused']).where('audience_frozen_at', 'is', null).execute();
    // A few pages here; the rest is written in the background while the send goes on (at 1,000,000
    // subscribers waiting for the whole snapshot held the first message back by 12 s).
    for (const { id } of rows) await d.snapshot(id, options.snapshotWaitPages);
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
   */
  async function housekeeping(): Promise<void> {
    await heartbeat();
    if (dialect === 'postgres') await recover(await liveLeaseOwners(db, 'sender:', clock.now()));
    await resumeRelayPauses();
    await startDueSchedules();
    await unfinishedSnapshots();
    await finishPosts();
  }

  return { run: housekeeping, heartbeat, finishPosts, recover };
}
