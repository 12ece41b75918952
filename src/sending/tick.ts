import type { Db, Dialect } from '../db/database.js';
import { applyOutcomes, type Finished } from './outcomes.js';
import type { EngineOptions } from './options.js';
import { claimRows, markAttempting, recordSentAndMark, type ClaimedRow } from './delivery-transitions.js';
import type { SendOutcome } from './transport.js';
import { sendingPosts } from './repository.js';

/**
 * The send loop's general tick as one transaction (pipeline.ts): the outcomes that came in, a claim when
 * the buffer runs low, and the markers of the messages about to go. Plain data in and out: the trouble
 * state it changes comes back in the result, so a tick that fails to commit changes nothing.
 */
export interface TickInput {
  outcomes: Finished[];
  /** Rows to mark `attempting` (they go out once this commit is durable). */
  take: number[];
  /** Rows a claim may add (0: no claim this tick). */
  claimRoom: number;
  now: number;
  owner: string;
  options: EngineOptions;
  /** Posts with relay trouble on record (see applyOutcomes). */
  troubled: number[];
}

export interface TickResult {
  /** Posts paused by these outcomes (their claims are released). */
  paused: number[];
  marked: number[];
  claimed: ClaimedRow[];
  skipped: number;
  /** The newsletter of each post claimed from: [postId, newsletterId]. */
  postNewsletter: Array<[number, number]>;
  troubled: number[];
}

export async function runTick(db: Db, dialect: Dialect, input: TickInput): Promise<TickResult> {
  const troubled = new Set(input.troubled);
  return db.transaction().execute(async (trx) => {
    const paused = await applyOutcomes(trx, dialect, input.outcomes, input.now, input.options, troubled);
    let claimed: ClaimedRow[] = [];
    let skipped = 0;
    const postNewsletter: Array<[number, number]> = [];
    if (input.claimRoom > 0) {
      const active = await sendingPosts(trx);
      for (const post of active) {
        const room = input.claimRoom - claimed.length - skipped;
        if (room <= 0) break;
        postNewsletter.push([post.id, post.newsletter_id]);
        if (post.relay_failures > 0) troubled.add(post.id);
        const got = await claimRows(trx, dialect, { postId: post.id, newsletterId: post.newsletter_id, owner: input.owner, now: input.now, limit: room });
        claimed = claimed.concat(got.claimed);
        skipped += got.skipped;
      }
    }
    const marked = await markAttempting(trx, dialect, input.take, input.owner, input.now);
    return { paused, marked: [...marked], claimed, skipped, postNewsletter, troubled: [...troubled] };
  });
}

/** A claim's result: the rows for the buffer, and whether the posts had nothing more to give. */
export interface ClaimResult {
  rows: Array<{ row: ClaimedRow; newsletterId: number }>;
  exhausted: boolean;
}

/**
 * The send loop's transactions, with the state they carry from tick to tick: the posts with relay trouble
 * on record. A tick that fails to commit leaves it as it was.
 */
export function createTickCommits(d: { db: Db; dialect: Dialect; owner: string; options: EngineOptions }) {
  const { db, dialect, owner, options } = d;
  /** Posts with relay trouble on record: their counter is reset by the next successful send. */
  const troubled = new Set<number>();

  /** The tick's transaction: the outcomes that came in and the markers of the messages about to go. */
  async function commit(outcomes: Finished[], take: number[], now: number): Promise<{ paused: number[]; marked: Set<number> }> {
    // Postgres, nothing but successes: the same changes in one statement (one round trip).
    if (dialect === 'postgres' && outcomes.every((f) => f.outcome.kind === 'sent' && f.occupied && !troubled.has(f.row.postId))) {
      const sent = outcomes.map((f) => ({ id: f.row.id, response: (f.outcome as Extract<SendOutcome, { kind: 'sent' }>).response }));
      const marked = await recordSentAndMark(db, sent, take, owner, now);
      return { paused: [], marked };
    }
    const r = await runTick(db, dialect, { outcomes, take, claimRoom: 0, now, owner, options, troubled: [...troubled] });
    troubled.clear();
    for (const id of r.troubled) troubled.add(id);
    return { paused: r.paused, marked: new Set(r.marked) };
  }

  /**
   * Claims up to `room` rows in a transaction of its own, after the tick's messages are on their way: a
   * claim of a few hundred rows takes milliseconds that every connection would otherwise spend waiting
   * for its marker. On Postgres it runs on another connection beside the next ticks; it only adds posts
   * with relay trouble.
   */
  async function claim(room: number, now: number): Promise<ClaimResult> {
    const r = await runTick(db, dialect, { outcomes: [], take: [], claimRoom: room, now, owner, options, troubled: [...troubled] });
    for (const id of r.troubled) troubled.add(id);
    const newsletters = new Map(r.postNewsletter);
    return {
      rows: r.claimed.map((row) => ({ row, newsletterId: newsletters.get(row.postId)! })),
      // Rows skipped at claim time (unsubscribed meanwhile) are progress too: only an empty claim means done.
      exhausted: r.claimed.length === 0 && r.skipped === 0,
    };
  }

  return { commit, claim };
}
