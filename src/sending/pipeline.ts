import type { Db, Dialect } from '../db/database.js';
import type { Clock } from '../lib/clock.js';
import type { DkimSigner } from './dkim-pool.js';
import { releaseClaims } from './delivery-transitions.js';
import { createRelayPacing } from './relay-pacing.js';
import type { RelayRateState } from './relay-rate.js';
import type { CompiledMessage } from './message.js';
import type { Finished } from './outcomes.js';
import type { Item } from './outgoing.js';
import { createSendBuffer, type SendBuffer } from './send-buffer.js';
import { createTickCommits } from './tick.js';
import { createAnswerPace, createWakeups } from './wakeups.js';
import type { BulkTransport } from './transport.js';
import type { EngineLog, EngineOptions } from './options.js';
import type { SendObserver } from './observer.js';

/**
 * The send loop. It works in ticks; each tick is ONE transaction that
 *   1. records the outcomes of the messages that finished since the last tick (group commit),
 *   2. marks the next ready messages `attempting` — at most as many as there are free connections,
 *      so after any crash at most `concurrency` rows are in doubt — and
 *   3. claims the next batch of rows when the buffer runs low (a claim is only a reservation: claimed
 *      rows go back to the queue after a crash, so a big claim costs memory, never correctness).
 * SMTP happens between ticks, outside any transaction. A message is rendered just before the tick
 * that marks it (with DKIM: signed in worker threads a little ahead), or, when the transport renders
 * (the SMTP worker, without DKIM), after it and over there; either way only a handful of rendered
 * messages exist at any time, whatever the size of the audience.
 */

export interface PipelineDeps {
  db: Db;
  dialect: Dialect;
  clock: Clock;
  owner: string;
  transport: BulkTransport;
  signer: () => DkimSigner | null;
  /** The post compiled once; rejects when it cannot be rendered (the post is then paused). */
  compiled: (postId: number) => Promise<CompiledMessage>;
  options: EngineOptions;
  /** Messages per second across the pool; undefined for as fast as the relay takes them. */
  sendRate: number | undefined;
  log: EngineLog;
  /** Hears the outcomes of each commit (the metrics). */
  observer?: SendObserver;
}

export interface Pipeline {
  /** Sends everything that is due now; returns when nothing is left to do at this moment. */
  drain(): Promise<void>;
  /** New work may exist (a post started or resumed, rows re-queued, snapshot page written). */
  wake(): void;
  /** Drops buffered messages of a post whose claims were released (pause, cancel). */
  forget(postId: number): void;
  /** Stops taking work, lets in-flight messages finish and records them, releases the buffer. */
  stop(): Promise<void>;
  readonly busy: boolean;
  /** The relay's quota as the send loop has learned it (relay-rate.ts). */
  relayRate(): RelayRateState;
}

/** How many rows a claim takes, when the next claim starts, and how many outcomes make one commit. */
function pipelineSizes(concurrency: number, options: EngineOptions) {
  /** Rows per claim: large, so claims are rare next to ticks (a claimed row is a small object). */
  const claimSize = options.claimSize ?? Math.max(concurrency * 2, 200);
  return {
    claimSize,
    /** The tick in which the buffer falls to this many rows claims the next batch. */
    lowWater: Math.max(concurrency, Math.floor(claimSize / 2)),
    /** Outcomes worth one commit when most connections are busy (see loop). */
    groupSize: Math.max(2, Math.ceil(concurrency / 2)),
  };
}

/**
 * The send loop's claims into its buffer, and what it forgets. A pause commits beside a Postgres claim
 * without seeing the rows that claim takes (they were still queued in its snapshot), so the rows of a
 * forgotten post, and those a claim running meanwhile brings back, are released again at the next tick.
 */
function createClaims(d: { db: Db; dialect: Dialect; commits: ReturnType<typeof createTickCommits>; buffer: SendBuffer; claimSize: number; exhausted: () => void }) {
  /** Posts forgotten (paused, cancelled) while the current claim ran. */
  let forgottenDuringClaim: Set<number> | undefined;
  /** Rows of forgotten posts that may still be claimed by us. */
  let unreleased: number[] = [];
  return {
    /** The post's rows are not ours any more: out of the buffer, and out of a claim in flight. */
    forget(postId: number): void {
      forgottenDuringClaim?.add(postId);
      unreleased = unreleased.concat(d.buffer.forget(postId));
    },
    /** Back to the queue, the forgotten rows still claimed (only those: the update names the status). */
    async release(now: number): Promise<void> {
      if (unreleased.length === 0) return;
      const ids = unreleased;
      unreleased = [];
      try {
        await d.db.transaction().execute((trx) => releaseClaims(trx, d.dialect, ids, now));
      } catch (err) {
        unreleased = ids.concat(unreleased);
        throw err;
      }
    },
    /** Claims the next rows beside the ticks (see createTickCommits) into the buffer. */
    async claim(now: number): Promise<void> {
      const forgotten = (forgottenDuringClaim = new Set());
      let r: Awaited<ReturnType<typeof d.commits.claim>>;
      try {
        r = await d.commits.claim(Math.max(0, d.claimSize - d.buffer.length), now);
      } finally {
        forgottenDuringClaim = undefined;
      }
      if (r.exhausted) d.exhausted();
      const ours = r.rows.filter((x) => !forgotten.has(x.row.postId));
      if (ours.length < r.rows.length) unreleased = unreleased.concat(r.rows.filter((x) => forgotten.has(x.row.postId)).map((x) => x.row.id));
      d.buffer.add(ours);
    },
  };
}

export function createPipeline(deps: PipelineDeps): Pipeline {
  const { db, clock, transport, options, log } = deps;
  const concurrency = transport.concurrency;
  const { claimSize, lowWater, groupSize } = pipelineSizes(concurrency, options);
  /** Rows marked attempting whose outcome is not committed yet (the DB's `attempting` count). */
  let occupied = 0;
  const finished: Finished[] = [];
  let exhausted = false;
  /** Postgres: the claim running beside the ticks, and its error for the next tick to throw. */
  let claiming: Promise<void> | undefined;
  let claimFailure: { error: unknown } | undefined;
  let stopping = false;
  let running: Promise<void> | undefined;
  const { pacer, ...relay } = createRelayPacing(deps.sendRate, concurrency, options);
  const commits = createTickCommits({ db, dialect: deps.dialect, owner: deps.owner, options });

  const wakeups = createWakeups(() => finished.length >= groupSize);
  const notify = wakeups.notify;
  const pace = createAnswerPace();

  const buffer = createSendBuffer({
    transport,
    signer: deps.signer,
    compiled: deps.compiled,
    pacer,
    finished(f) {
      if (f.startedAt !== undefined) pace.observe(performance.now() - f.startedAt);
      finished.push(f);
      notify();
    },
    notify,
  });

  const claims = createClaims({ db, dialect: deps.dialect, commits, buffer, claimSize, exhausted: () => (exhausted = true) });
  const { claim, forget } = claims;

  async function tick(): Promise<'idle' | 'worked' | 'wait'> {
    // First, before any outcome or message is taken from the buffers (thrown later, they would be lost).
    if (claimFailure) {
      const { error } = claimFailure;
      claimFailure = undefined;
      throw error;
    }
    const now = clock.now();
    await claims.release(now);
    const outcomes = relay.observe(finished.splice(0), () => (exhausted = false));
    const committed = outcomes.filter((f) => f.occupied).length;
    const allowance = Math.max(0, Math.min(concurrency - (occupied - committed), pacer.available()));
    const { take, unsendable }: { take: Item[]; unsendable: Item[] } = stopping ? { take: [], unsendable: [] } : buffer.take(allowance, now);
    const wantClaim = !stopping && !exhausted && !claiming && buffer.length <= lowWater;
    if (outcomes.length === 0 && unsendable.length === 0 && take.length === 0 && !wantClaim) {
      return occupied === 0 && buffer.signing === 0 && buffer.length === 0 && !claiming ? 'idle' : 'wait';
    }
    const problems = unsendable.map((i): Finished => ({ row: i.row, newsletterId: i.newsletterId, outcome: i.problem!, occupied: false }));

    if (outcomes.length + problems.length + take.length > 0) {
      let result: Awaited<ReturnType<typeof commits.commit>>;
      try {
        result = await commits.commit([...outcomes, ...problems], take.map((i) => i.row.id), now);
      } catch (err) {
        // Nothing of this tick was written: keep its outcomes and messages for the next attempt.
        finished.unshift(...outcomes);
        buffer.putBack([...unsendable, ...take]);
        throw err;
      }
      occupied -= committed;
      deps.observer?.recorded(problems.length > 0 ? [...outcomes, ...problems] : outcomes);
      for (const postId of result.paused) forget(postId);
      for (const item of take) {
        if (!result.marked.has(item.row.id)) {
          buffer.drop(item); // skipped, or released meanwhile (pause/cancel): not ours now
          continue;
        }
        occupied += 1;
        buffer.send(item, now);
      }
    }
    // The next envelopes go to the transport with this tick's markers, not after a claim's commit.
    if (!stopping) buffer.prepareAhead(now);
    if (wantClaim && deps.dialect === 'postgres') {
      claiming = claim(now)
        .catch((error: unknown) => void (claimFailure = { error }))
        .finally(() => {
          claiming = undefined;
          notify();
        });
    } else if (wantClaim) await claim(now);
    return 'worked';
  }

  async function loop(): Promise<void> {
    exhausted = false;
    if (!stopping) await transport.ready?.();
    for (;;) {
      const state = await tick();
      if (state === 'worked') {
        // Let the event loop collect SMTP answers before the next commit (better-sqlite3 is synchronous).
        await new Promise<void>((resolve) => setImmediate(resolve));
        // Group commit: while most connections are busy and only a few answers are in, wait up to a
        // millisecond for more, so that one commit (one fsync) records many of them; not when the relay
        // is far enough away that the millisecond would bring none (see createAnswerPace).
        const inFlight = occupied - finished.length;
        if (!stopping && finished.length > 0 && finished.length < groupSize && inFlight >= groupSize && pace.worthWaiting(inFlight)) await wakeups.gather();
        continue;
      }
      if (state === 'idle') {
        if (finished.length > 0) continue;
        return;
      }
      if (state === 'wait') {
        if (stopping && occupied === 0 && finished.length === 0 && buffer.signing === 0 && !claiming) return;
        // Waiting only for the rate limiter: wake when the next token is due.
        const paced = pacer.intervalMs !== undefined && finished.length === 0 && buffer.length > 0 && occupied < concurrency;
        if (finished.length === 0) await wakeups.next(paced ? pacer.intervalMs : undefined);
      }
    }
  }

  return {
    get busy() {
      return running !== undefined;
    },
    relayRate: relay.state,
    drain() {
      running ??= loop()
        .catch((err: unknown) => {
          log.error({ err }, 'send loop failed');
          throw err;
        })
        .finally(() => {
          running = undefined;
        });
      return running;
    },
    wake() {
      exhausted = false;
      notify();
    },
    forget,
    async stop() {
      stopping = true;
      notify();
      if (running) await running.catch(() => undefined);
      // Anything still buffered was claimed, never attempted: back to the queue.
      await loop().catch((err: unknown) => log.error({ err }, 'recording the last outcomes failed'));
      const ids = buffer.clear();
      if (ids.length > 0) await db.transaction().execute((trx) => releaseClaims(trx, deps.dialect, ids, clock.now()));
    },
  };
}
