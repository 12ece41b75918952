import type { Transaction } from 'kysely';
import type { Database, Dialect } from '../db/database.js';
import { recordEvent } from '../domain/events.js';
import { suppress } from '../domain/suppressions.js';
import { backoff, type EngineOptions } from './options.js';
import { recordOutcome, recordSent, releasePostClaims, type ClaimedRow } from './delivery-transitions.js';
import { pauseForPost, pauseForRelay } from './post-transitions.js';
import { relayFailuresOf, resetRelayFailures } from './repository.js';
import type { SendOutcome } from './transport.js';

/** One message whose attempt ended (or that could not be attempted), waiting for the next group commit. */
export interface Finished {
  row: ClaimedRow;
  newsletterId: number;
  outcome: SendOutcome;
  /** Whether it held a connection slot (was marked attempting). */
  occupied: boolean;
  /** When it was handed to the transport, on the pacing clock (relay-rate.ts tells rounds apart by it). */
  startedAt?: number;
}

/**
 * Writes a batch of outcomes inside the tick's transaction and pauses posts that hit relay-level or
 * post-level trouble. Returns the ids of posts paused here (their claims are released).
 */
export async function applyOutcomes(
  trx: Transaction<Database>,
  dialect: Dialect,
  batch: Finished[],
  now: number,
  options: EngineOptions,
  /** Posts whose relay_failures counter is not zero; a sent message resets it (and leaves the set). */
  troubled: Set<number>,
): Promise<number[]> {
  if (batch.length === 0) return [];
  const sent: Array<{ id: number; response: string }> = [];
  const sentPosts = new Set<number>();
  const relayTrouble = new Map<number, string>();
  const postTrouble = new Map<number, string>();

  for (const { row, newsletterId, outcome } of batch) {
    switch (outcome.kind) {
      case 'sent':
        sent.push({ id: row.id, response: outcome.response });
        sentPosts.add(row.postId);
        break;
      case 'retry': {
        if (outcome.throttled) {
          // The relay's quota, not the recipient: back to the queue uncounted, while relay-rate.ts slows
          // the whole send down (a relay that refuses everything arrives here as `relay` instead).
          await recordOutcome(trx, row.id, { status: 'queued', error: outcome.error, countAttempt: false }, now);
          break;
        }
        const attempts = row.attempts + 1;
        if (attempts >= options.maxAttempts) {
          const error = `Gave up after ${attempts} attempts. Last answer: ${outcome.error}`;
          await recordOutcome(trx, row.id, { status: 'failed', error, countAttempt: true }, now);
        } else {
          const nextAttemptAt = now + backoff(attempts, options.retryBaseMs, options.retryMaxMs);
          await recordOutcome(trx, row.id, { status: 'retry', error: outcome.error, nextAttemptAt, countAttempt: true }, now);
        }
        break;
      }
      case 'failed':
        await recordOutcome(trx, row.id, { status: 'failed', error: outcome.error, countAttempt: true }, now);
        if (outcome.suppress) {
          await suppress(trx, row.email, 'bounced', now, outcome.error);
          await recordEvent(trx, {
            type: 'bounced',
            at: now,
            subscriberId: row.subscriberId,
            newsletterId,
            postId: row.postId,
            data: { response: outcome.error, messageId: row.messageId },
          });
        }
        break;
      case 'unknown':
        await recordOutcome(trx, row.id, { status: 'unknown', error: outcome.error, countAttempt: true }, now);
        break;
      case 'relay':
        await recordOutcome(trx, row.id, { status: 'queued', error: outcome.error, countAttempt: false }, now);
        relayTrouble.set(row.postId, outcome.error);
        break;
      case 'post':
        await recordOutcome(trx, row.id, { status: 'queued', error: outcome.error, countAttempt: false }, now);
        postTrouble.set(row.postId, outcome.error);
        break;
    }
  }

  await recordSent(trx, dialect, sent, now);
  const recovered = [...sentPosts].filter((id) => troubled.delete(id));
  await resetRelayFailures(trx, recovered);

  const paused: number[] = [];
  for (const [postId, error] of relayTrouble) {
    const failures = (await relayFailuresOf(trx, postId)) + 1;
    const resumeAt = now + backoff(failures, options.relayBackoffBaseMs, options.relayBackoffMaxMs);
    const reason = `The mail relay is not accepting mail (${error}). Gazette will try again by itself; no recipient was marked failed.`;
    await pauseForRelay(trx, postId, { reason, resumeAt, relayFailures: failures }, now);
    troubled.add(postId);
    await releasePostClaims(trx, postId, now);
    paused.push(postId);
  }
  for (const [postId, error] of postTrouble) {
    if (relayTrouble.has(postId)) continue;
    await pauseForPost(trx, postId, `The relay refuses this post for every recipient (${error}). Fix the post or the relay, then resume.`, now);
    await releasePostClaims(trx, postId, now);
    paused.push(postId);
  }
  return paused;
}
