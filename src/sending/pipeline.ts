import type { Db, Dialect } from '../db/database.js';
import type { Clock } from '../lib/clock.js';
import type { DkimSigner } from './dkim-pool.js';
import { assemble, type CompiledMessage } from './message.js';
import { applyOutcomes, type Finished, type ThrottleState } from './outcomes.js';
import { claimRows, markAttempting, releaseClaims, type ClaimedRow } from './repository.js';
import type { BulkTransport, SendOutcome } from './transport.js';
import type { EngineLog, EngineOptions } from './options.js';

/**
 * The send loop. It works in ticks; each tick is ONE transaction that
 *   1. records the outcomes of the messages that finished since the last tick (group commit),
 *   2. marks the next ready messages `attempting` — at most as many as there are free connections,
 *      so after any crash at most `concurrency` rows are in doubt — and
 *   3. claims the next small batch (about twice the pool) when the buffer runs low.
 * SMTP happens between ticks, outside any transaction. Messages are rendered (and DKIM-signed in
 * worker threads) as soon as they are claimed, so a free connection never waits for them.
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
}

interface Item {
  row: ClaimedRow;
  newsletterId: number;
  from: string;
  subject: string;
  raw?: Buffer;
  /** Set when the message could not be built for this recipient: recorded without sending. */
  problem?: SendOutcome;
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
}

export function createPipeline(deps: PipelineDeps): Pipeline {
  const { db, clock, transport, options, log } = deps;
  const concurrency = transport.concurrency;
  const claimSize = options.claimSize ?? concurrency * 2;
  let ready: Item[] = [];
  let signing = 0;
  /** Rows marked attempting whose outcome is not committed yet (the DB's `attempting` count). */
  let occupied = 0;
  const finished: Finished[] = [];
  let waiters: Array<() => void> = [];
  let exhausted = false;
  let stopping = false;
  let running: Promise<void> | undefined;
  // Pacing: a token bucket refilled on the real clock (SEND_RATE is about wall time).
  let tokens = 1;
  let lastRefill = performance.now();
  const throttle: ThrottleState = { consecutive421: 0 };
  /** Posts whose compiled message is at hand: their fresh claims can go out in the tick that claims them. */
  const compiledPosts = new Set<number>();
  /** Posts with relay trouble on record: their counter is reset by the next successful send. */
  const troubled = new Set<number>();

  // Wake-ups are deferred to the check phase: every SMTP answer that arrived in this poll phase is
  // collected first, so one tick (one commit) records them all instead of one commit per answer.
  let wakeScheduled = false;
  const notify = () => {
    if (wakeScheduled) return;
    wakeScheduled = true;
    setImmediate(() => {
      wakeScheduled = false;
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    });
  };
  const nextEvent = (timeoutMs?: number) =>
    new Promise<void>((resolve) => {
      waiters.push(resolve);
      if (timeoutMs !== undefined) setTimeout(notify, timeoutMs);
    });

  const refill = (): number => {
    if (deps.sendRate === undefined) return Infinity;
    const now = performance.now();
    tokens = Math.min(Math.max(1, Math.min(concurrency, deps.sendRate)), tokens + ((now - lastRefill) * deps.sendRate) / 1000);
    lastRefill = now;
    return Math.floor(tokens);
  };

  /**
   * Renders claimed rows into items (synchronously, so they can be sent at once); with DKIM on, the
   * signatures come later from the worker threads and the items become sendable then.
   */
  async function prepare(rows: ClaimedRow[], posts: Map<number, number>): Promise<Item[]> {
    const items: Item[] = [];
    const byPost = new Map<number, ClaimedRow[]>();
    for (const r of rows) byPost.set(r.postId, [...(byPost.get(r.postId) ?? []), r]);
    for (const [postId, group] of byPost) {
      const newsletterId = posts.get(postId)!;
      let compiled: CompiledMessage;
      try {
        compiled = await deps.compiled(postId);
        compiledPosts.add(postId);
      } catch (err) {
        // Nobody's fault but the post's: the rows go back to the queue and the post is paused.
        const problem: SendOutcome = { kind: 'post', error: `This post could not be prepared for sending: ${(err as Error).message}` };
        for (const row of group) items.push({ row, newsletterId, from: '', subject: '', problem });
        continue;
      }
      const now = clock.now();
      const rendered: Array<{ item: Item; headers: string; body: string }> = [];
      for (const row of group) {
        const item: Item = { row, newsletterId, from: compiled.envelopeFrom, subject: '' };
        try {
          const m = compiled.render(row, now);
          item.subject = m.subject;
          rendered.push({ item, headers: m.headers, body: m.body });
        } catch (err) {
          item.problem = { kind: 'failed', error: `Could not build this message: ${(err as Error).message}`, suppress: false };
        }
        items.push(item);
      }
      const signer = deps.signer();
      if (!signer) {
        for (const r of rendered) r.item.raw = assemble(r);
        continue;
      }
      signing += 1;
      signer
        .sign(rendered, Math.floor(now / 1000))
        .then(
          (lines) => rendered.forEach((r, i) => (r.item.raw = assemble(r, lines[i]))),
          (err: unknown) => {
            // Not the recipient's fault: put the rows back and stop this post until someone looks.
            for (const r of rendered) r.item.problem = { kind: 'post', error: `DKIM signing failed: ${(err as Error).message}` };
          },
        )
        .finally(() => {
          signing -= 1;
          notify();
        });
    }
    return items;
  }

  function send(item: Item): void {
    if (deps.sendRate !== undefined) tokens -= 1;
    transport
      .send({ from: item.from, to: item.row.email, raw: item.raw!, messageId: item.row.messageId, subject: item.subject })
      .catch((err: unknown): SendOutcome => ({ kind: 'retry', error: `internal error: ${(err as Error).message}` }))
      .then((outcome) => {
        finished.push({ row: item.row, newsletterId: item.newsletterId, outcome, occupied: true });
        notify();
      });
  }

  /** The tick's one transaction: outcomes, then a claim when the buffer runs low, then the markers. */
  async function commitTick(outcomes: Finished[], take: Item[], wantClaim: boolean, direct: number, now: number) {
    return db.transaction().execute(async (trx) => {
      const paused = await applyOutcomes(trx, outcomes, now, options, throttle, troubled);
      let claimed: ClaimedRow[] = [];
      let skipped = 0;
      const postNewsletter = new Map<number, number>();
      if (wantClaim) {
        const active = await trx
          .selectFrom('posts')
          .select(['id', 'newsletter_id', 'relay_failures'])
          .where('status', '=', 'sending')
          .orderBy('started_at')
          .orderBy('id')
          .execute();
        for (const post of active) {
          const room = claimSize - ready.length - claimed.length - skipped;
          if (room <= 0) break;
          postNewsletter.set(post.id, post.newsletter_id);
          if (post.relay_failures > 0) troubled.add(post.id);
          const got = await claimRows(trx, deps.dialect, { postId: post.id, newsletterId: post.newsletter_id, owner: deps.owner, now, limit: room });
          claimed = claimed.concat(got.claimed);
          skipped += got.skipped;
        }
      }
      // Fresh claims of a post already compiled can be marked (and sent) in this same tick.
      const fresh = claimed.filter((r) => compiledPosts.has(r.postId)).slice(0, Math.max(0, direct));
      const marked = await markAttempting(trx, [...take.map((i) => i.row.id), ...fresh.map((r) => r.id)], deps.owner, now);
      return { paused, marked, claimed, skipped, postNewsletter };
    });
  }

  async function tick(): Promise<'idle' | 'worked' | 'wait'> {
    const outcomes = finished.splice(0);
    const committed = outcomes.filter((f) => f.occupied).length;
    const allowance = Math.min(concurrency - (occupied - committed), refill());
    const take: Item[] = [];
    const unsendable: Item[] = [];
    if (!stopping) {
      const keep: Item[] = [];
      for (const item of ready) {
        if (item.problem) unsendable.push(item);
        else if (item.raw && take.length < allowance) take.push(item);
        else keep.push(item);
      }
      ready = keep;
    }
    const wantClaim = !stopping && !exhausted && ready.length <= concurrency;
    if (outcomes.length === 0 && unsendable.length === 0 && take.length === 0 && !wantClaim) {
      return occupied === 0 && signing === 0 && ready.length === 0 ? 'idle' : 'wait';
    }
    // Without signing, rows claimed in this tick can be marked in it too when connections are free.
    const direct = stopping || deps.signer() ? 0 : allowance - take.length;
    const problems = unsendable.map((i): Finished => ({ row: i.row, newsletterId: i.newsletterId, outcome: i.problem!, occupied: false }));

    let result: Awaited<ReturnType<typeof commitTick>>;
    try {
      result = await commitTick([...outcomes, ...problems], take, wantClaim, direct, clock.now());
    } catch (err) {
      // Nothing of this tick was written: keep its outcomes and messages for the next attempt.
      finished.unshift(...outcomes);
      ready.unshift(...unsendable, ...take);
      throw err;
    }

    occupied -= committed;
    for (const postId of result.paused) forget(postId);
    // Rows skipped at claim time (unsubscribed meanwhile) are progress too: only an empty claim means done.
    if (wantClaim && result.claimed.length === 0 && result.skipped === 0) exhausted = true;
    for (const item of take) {
      if (!result.marked.has(item.row.id)) continue; // released meanwhile (pause/cancel): not ours now
      occupied += 1;
      send(item);
    }
    if (result.claimed.length > 0) {
      const items = await prepare(result.claimed, result.postNewsletter);
      for (const item of items) {
        if (!result.marked.has(item.row.id)) {
          ready.push(item);
          continue;
        }
        // Already marked attempting in this tick: send now, or record why it could not be built.
        occupied += 1;
        if (item.problem || !item.raw) {
          const outcome = item.problem ?? { kind: 'post', error: 'internal error: message not built' };
          finished.push({ row: item.row, newsletterId: item.newsletterId, outcome, occupied: true });
        } else send(item);
      }
    }
    return 'worked';
  }

  function forget(postId: number) {
    ready = ready.filter((i) => i.row.postId !== postId);
    // The post may be edited before it resumes: compile it afresh then.
    compiledPosts.delete(postId);
  }

  async function loop(): Promise<void> {
    exhausted = false;
    if (!stopping) await transport.ready?.();
    for (;;) {
      const state = await tick();
      if (state === 'worked') {
        // Let the event loop collect SMTP answers before the next commit (better-sqlite3 is synchronous).
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      if (state === 'idle') {
        if (finished.length > 0) continue;
        return;
      }
      if (state === 'wait') {
        if (stopping && occupied === 0 && finished.length === 0 && signing === 0) return;
        // Waiting only for the rate limiter: wake when the next token is due.
        const paced = deps.sendRate !== undefined && finished.length === 0 && ready.some((i) => i.raw) && occupied < concurrency;
        if (finished.length === 0) await nextEvent(paced ? Math.ceil(1000 / deps.sendRate!) : undefined);
      }
    }
  }

  return {
    get busy() {
      return running !== undefined;
    },
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
      const ids = ready.map((i) => i.row.id);
      ready = [];
      if (ids.length > 0) await db.transaction().execute((trx) => releaseClaims(trx, ids, clock.now()));
    },
  };
}
