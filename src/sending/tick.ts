import type { Db, Dialect } from '../db/database.js';
import { applyOutcomes, type Finished, type ThrottleState } from './outcomes.js';
import type { EngineOptions } from './options.js';
import { claimRows, markAttempting, type ClaimedRow } from './delivery-transitions.js';
import { sendingPosts } from './repository.js';

/**
 * The send loop's general tick as one transaction (pipeline.ts): the outcomes that came in, a claim when
 * the buffer runs low, and the markers of the messages about to go. Plain data in and out: the throttle
 * and trouble state it changes come back in the result, so a tick that fails to commit changes nothing.
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
  throttle: ThrottleState;
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
  throttle: ThrottleState;
  troubled: number[];
}

export async function runTick(db: Db, dialect: Dialect, input: TickInput): Promise<TickResult> {
  const throttle = { ...input.throttle };
  const troubled = new Set(input.troubled);
  return db.transaction().execute(async (trx) => {
    const paused = await applyOutcomes(trx, dialect, input.outcomes, input.now, input.options, throttle, troubled);
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
    return { paused, marked: [...marked], claimed, skipped, postNewsletter, throttle, troubled: [...troubled] };
  });
}
