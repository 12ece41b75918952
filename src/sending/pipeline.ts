import type { Db, Dialect } from '../db/database.js';
import type { Clock } from '../lib/clock.js';
import type { DkimSigner } from './dkim-pool.js';
import { createCompiledPosts } from './compiled-posts.js';
import { createPacer } from './pacer.js';
import { assemble, type CompiledMessage, type MessageTemplate } from './message.js';
import type { Finished, ThrottleState } from './outcomes.js';
import { recordSentAndMark, releaseClaims, type ClaimedRow } from './delivery-transitions.js';
import { runTick, type TickInput } from './tick.js';
import { createWakeups } from './wakeups.js';
import type { BulkTransport, OutgoingRaw, OutgoingTemplated, Prepared, SendOutcome } from './transport.js';
import type { EngineLog, EngineOptions } from './options.js';

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
}

interface Item {
  row: ClaimedRow;
  newsletterId: number;
  from?: string;
  subject?: string;
  raw?: Buffer;
  /** Rendered by the transport where it sends (see BulkTransport.sendTemplated) instead of `raw`. */
  template?: MessageTemplate;
  /** Handed to the DKIM signer; `raw` arrives with the signature. */
  signing?: boolean;
  /** Set when the message could not be built for this recipient: recorded without sending. */
  problem?: SendOutcome;
  /** Handed to the transport ahead (its envelope may be out already); goes when released. */
  prepared?: Prepared;
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
  /** Rows per claim: large, so claims are rare next to ticks (a claimed row is a small object). */
  const claimSize = options.claimSize ?? Math.max(concurrency * 2, 200);
  /** The tick in which the buffer falls to this many rows claims the next batch. */
  const lowWater = Math.max(concurrency, Math.floor(claimSize / 2));
  /** With DKIM, this many messages are signed ahead of the free connections. */
  const signAhead = Math.max(concurrency * 4, 32);
  /**
   * Messages handed to the transport before their tick (transport.prepare): one per connection, so
   * each connection can have the next envelope out while the commit that marks it runs. They are
   * only claimed, not `attempting`: a crash re-queues them, and nothing of them was delivered.
   */
  const lookahead = transport.prepare ? concurrency : 0;
  let preparedCount = 0;
  let ready: Item[] = [];
  let signing = 0;
  /** Rows marked attempting whose outcome is not committed yet (the DB's `attempting` count). */
  let occupied = 0;
  const finished: Finished[] = [];
  let exhausted = false;
  /** Postgres: the claim running beside the ticks, and its error for the next tick to throw. */
  let claiming: Promise<void> | undefined;
  let claimFailure: { error: unknown } | undefined;
  let stopping = false;
  let running: Promise<void> | undefined;
  const pacer = createPacer(deps.sendRate, concurrency);
  const throttle: ThrottleState = { consecutive421: 0 };
  /** Posts with relay trouble on record: their counter is reset by the next successful send. */
  const troubled = new Set<number>();

  /** Outcomes worth one commit when most connections are busy (see loop). */
  const groupSize = Math.max(2, Math.ceil(concurrency / 2));
  const wakeups = createWakeups(() => finished.length >= groupSize);
  const notify = wakeups.notify;

  const compiledPosts = createCompiledPosts(deps.compiled, {
    failed(postId, err) {
      // Nobody's fault but the post's: its rows go back to the queue and the post is paused.
      const problem: SendOutcome = { kind: 'post', error: `This post could not be prepared for sending: ${err.message}` };
      for (const item of ready) if (item.row.postId === postId && !item.raw && !item.template) item.problem = problem;
    },
    settled: () => notify(),
  });

  /**
   * Renders the front of the buffer: as many messages as may be sent now, or with DKIM on, enough to
   * keep `signAhead` signed or being signed (the signatures come from worker threads).
   */
  function render(allowance: number, now: number): void {
    const signer = deps.signer();
    const want = signer ? signAhead : allowance + lookahead;
    const toSign: Array<{ item: Item; headers: string; body: string }> = [];
    let inHand = 0;
    for (const item of ready) {
      if (inHand >= want) break;
      if (item.problem) continue;
      if (item.raw || item.template || item.signing) {
        inHand += 1;
        continue;
      }
      const compiled = compiledPosts.get(item.row.postId);
      if (!compiled) continue;
      inHand += 1;
      item.from = compiled.envelopeFrom;
      if (!signer && transport.sendTemplated) {
        // The transport renders it where it sends it: nothing to build here.
        item.template = compiled.template;
        continue;
      }
      try {
        const m = compiled.render(item.row, now);
        item.subject = m.subject;
        if (signer) {
          item.signing = true;
          toSign.push({ item, headers: m.headers, body: m.body });
        } else item.raw = assemble(m);
      } catch (err) {
        item.problem = { kind: 'failed', error: `Could not build this message: ${(err as Error).message}`, suppress: false };
      }
    }
    if (!signer || toSign.length === 0) return;
    signing += 1;
    signer
      .sign(toSign, Math.floor(now / 1000))
      .then(
        (lines) => toSign.forEach((r, i) => (r.item.raw = assemble(r, lines[i]))),
        (err: unknown) => {
          // Not the recipient's fault: put the rows back and stop this post until someone looks.
          for (const r of toSign) r.item.problem = { kind: 'post', error: `DKIM signing failed: ${(err as Error).message}` };
        },
      )
      .finally(() => {
        for (const r of toSign) r.item.signing = false;
        signing -= 1;
        notify();
      });
  }

  function outgoing(item: Item, now: number): OutgoingRaw | OutgoingTemplated {
    const { row } = item;
    return item.template
      ? {
          from: item.from!,
          template: item.template,
          recipient: { email: row.email, name: row.name, attributes: row.attributes, token: row.token, messageId: row.messageId },
          date: now,
        }
      : { from: item.from!, to: row.email, raw: item.raw!, messageId: row.messageId, subject: item.subject ?? '' };
  }

  function send(item: Item, now: number): void {
    pacer.take();
    let sending: Promise<SendOutcome>;
    if (item.prepared) {
      preparedCount -= 1;
      sending = item.prepared.release();
      item.prepared = undefined;
    } else {
      const m = outgoing(item, now);
      sending = 'template' in m ? transport.sendTemplated!(m) : transport.send(m);
    }
    sending
      .catch((err: unknown): SendOutcome => ({ kind: 'retry', error: `internal error: ${(err as Error).message}` }))
      .then((outcome) => {
        finished.push({ row: item.row, newsletterId: item.newsletterId, outcome, occupied: true });
        notify();
      });
  }

  /** Hands the next messages to the transport ahead of their tick (see `lookahead`). */
  function prepareAhead(now: number): void {
    if (lookahead === 0 || stopping) return;
    for (const item of ready) {
      if (preparedCount >= lookahead) return;
      if (item.prepared || item.problem || item.signing || !(item.raw || item.template)) continue;
      item.prepared = transport.prepare!(outgoing(item, now));
      preparedCount += 1;
    }
  }

  function unprepare(item: Item): void {
    if (!item.prepared) return;
    item.prepared.cancel();
    item.prepared = undefined;
    preparedCount -= 1;
  }

  /** The tick's transaction: the outcomes that came in and the markers of the messages about to go. */
  async function commitTick(outcomes: Finished[], take: Item[], now: number) {
    const takeIds = take.map((i) => i.row.id);
    // Postgres, nothing but successes: the same changes in one statement (one round trip).
    if (deps.dialect === 'postgres' && outcomes.every((f) => f.outcome.kind === 'sent' && f.occupied && !troubled.has(f.row.postId))) {
      const sent = outcomes.map((f) => ({ id: f.row.id, response: (f.outcome as Extract<SendOutcome, { kind: 'sent' }>).response }));
      const marked = await recordSentAndMark(db, sent, takeIds, deps.owner, now);
      if (sent.length > 0) throttle.consecutive421 = 0;
      return { paused: [] as number[], marked };
    }
    const r = await transaction({ outcomes, take: takeIds, claimRoom: 0, now });
    return { paused: r.paused, marked: new Set(r.marked) };
  }

  /** Runs one transaction of tick.ts and takes back the state it changed. */
  async function transaction(part: Pick<TickInput, 'outcomes' | 'take' | 'claimRoom' | 'now'>) {
    const r = await runTick(db, deps.dialect, { ...part, owner: deps.owner, options, throttle, troubled: [...troubled] });
    throttle.consecutive421 = r.throttle.consecutive421;
    troubled.clear();
    for (const id of r.troubled) troubled.add(id);
    return r;
  }

  /**
   * Claims the next rows in a transaction of its own, after the tick's messages are on their way: a
   * claim of a few hundred rows takes milliseconds that every connection would otherwise spend waiting
   * for its marker. On Postgres it runs on another connection beside the next ticks (a claim was ~10 ms,
   * a fifth of the loop's time); it changes no throttle state and only adds posts with relay trouble.
   */
  async function claim(now: number): Promise<void> {
    const claimRoom = Math.max(0, claimSize - ready.length);
    const r = await runTick(db, deps.dialect, { outcomes: [], take: [], claimRoom, now, owner: deps.owner, options, throttle, troubled: [...troubled] });
    for (const id of r.troubled) troubled.add(id);
    // Rows skipped at claim time (unsubscribed meanwhile) are progress too: only an empty claim means done.
    if (r.claimed.length === 0 && r.skipped === 0) exhausted = true;
    const newsletters = new Map(r.postNewsletter);
    for (const row of r.claimed) ready.push({ row, newsletterId: newsletters.get(row.postId)! });
  }

  async function tick(): Promise<'idle' | 'worked' | 'wait'> {
    // First, before any outcome or message is taken from the buffers (thrown later, they would be lost).
    if (claimFailure) {
      const { error } = claimFailure;
      claimFailure = undefined;
      throw error;
    }
    const now = clock.now();
    const outcomes = finished.splice(0);
    const committed = outcomes.filter((f) => f.occupied).length;
    const allowance = Math.max(0, Math.min(concurrency - (occupied - committed), pacer.available()));
    const take: Item[] = [];
    const unsendable: Item[] = [];
    if (!stopping) {
      render(allowance, now);
      const keep: Item[] = [];
      for (const item of ready) {
        if (item.problem && !item.signing) {
          unprepare(item);
          unsendable.push(item);
        }
        else if ((item.raw || item.template) && take.length < allowance) take.push(item);
        else keep.push(item);
      }
      ready = keep;
    }
    const wantClaim = !stopping && !exhausted && !claiming && ready.length <= lowWater;
    if (outcomes.length === 0 && unsendable.length === 0 && take.length === 0 && !wantClaim) {
      return occupied === 0 && signing === 0 && ready.length === 0 && !claiming ? 'idle' : 'wait';
    }
    const problems = unsendable.map((i): Finished => ({ row: i.row, newsletterId: i.newsletterId, outcome: i.problem!, occupied: false }));

    if (outcomes.length + problems.length + take.length > 0) {
      let result: Awaited<ReturnType<typeof commitTick>>;
      try {
        result = await commitTick([...outcomes, ...problems], take, now);
      } catch (err) {
        // Nothing of this tick was written: keep its outcomes and messages for the next attempt.
        finished.unshift(...outcomes);
        ready.unshift(...unsendable, ...take);
        throw err;
      }
      occupied -= committed;
      for (const postId of result.paused) forget(postId);
      for (const item of take) {
        if (!result.marked.has(item.row.id)) {
          unprepare(item); // skipped, or released meanwhile (pause/cancel): not ours now
          continue;
        }
        occupied += 1;
        send(item, now);
      }
    }
    if (wantClaim && deps.dialect === 'postgres') {
      claiming = claim(now)
        .catch((error: unknown) => void (claimFailure = { error }))
        .finally(() => {
          claiming = undefined;
          notify();
        });
    } else if (wantClaim) await claim(now);
    prepareAhead(now);
    return 'worked';
  }

  function forget(postId: number) {
    ready = ready.filter((i) => {
      if (i.row.postId !== postId) return true;
      unprepare(i);
      return false;
    });
    // The post may be edited before it resumes: compile it afresh then.
    compiledPosts.forget(postId);
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
        // millisecond for more, so that one commit (one fsync) records many of them.
        const inFlight = occupied - finished.length;
        if (!stopping && finished.length > 0 && finished.length < groupSize && inFlight >= groupSize) await wakeups.gather();
        continue;
      }
      if (state === 'idle') {
        if (finished.length > 0) continue;
        return;
      }
      if (state === 'wait') {
        if (stopping && occupied === 0 && finished.length === 0 && signing === 0 && !claiming) return;
        // Waiting only for the rate limiter: wake when the next token is due.
        const paced = pacer.intervalMs !== undefined && finished.length === 0 && ready.length > 0 && occupied < concurrency;
        if (finished.length === 0) await wakeups.next(paced ? pacer.intervalMs : undefined);
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
      for (const item of ready) unprepare(item);
      ready = [];
      if (ids.length > 0) await db.transaction().execute((trx) => releaseClaims(trx, deps.dialect, ids, clock.now()));
    },
  };
}
