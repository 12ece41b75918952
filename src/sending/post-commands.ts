import type { Db } from '../db/database.js';
import type { Clock } from '../lib/clock.js';
import { ConflictError, NotFoundError } from '../lib/errors.js';
import type { AudienceSnapshot } from './audience-snapshot.js';
import { cancelPostDeliveries, releasePostClaims, requeueDeliveries, type Requeueable } from './delivery-transitions.js';
import type { CompiledMessage } from './message.js';
import type { EngineLog, EngineOptions } from './options.js';
import { cancelPost, clearHold, pausePost, reopenSentPost, resumePost, startSending } from './post-transitions.js';
import type { PostMessages } from './post-messages.js';
import { findPost } from './repository.js';

export interface PostCommandsDeps {
  db: Db;
  clock: Clock;
  options: EngineOptions;
  log: EngineLog;
  messages: PostMessages;
  snapshot: AudienceSnapshot;
  /** New work may exist: the send loop looks again. */
  wake(): void;
  /** The post's claims were released: the send loop drops what it holds of it, and its message goes. */
  forget(postId: number): void;
}

/**
 * What the writer (and the scheduler) ask of a send: start, pause, resume, cancel, retry recipients.
 * Each checks the post's status for a clear refusal, then makes its move with the conditional updates of
 * post-transitions.ts, so a request racing another still changes the post only once.
 */
export function createPostCommands(d: PostCommandsDeps) {
  const { db, clock, options, log, messages } = d;

  async function existing(postId: number) {
    const post = await findPost(db, postId);
    if (!post) throw new NotFoundError('That post does not exist.');
    return post;
  }

  /** draft|scheduled → snapshot of the audience → sending. ConflictError when the post cannot start. */
  async function start(postId: number): Promise<void> {
    const post = await existing(postId);
    if (post.status !== 'draft' && post.status !== 'scheduled') {
      throw new ConflictError(`This post is ${post.status}; only a draft or a scheduled post can be sent.`);
    }
    // Render before changing anything: a post that cannot be built never starts.
    let message: CompiledMessage;
    try {
      message = await messages.compile(postId);
    } catch (err) {
      throw new ConflictError(`This post cannot be sent: ${(err as Error).message}`);
    }
    const now = clock.now();
    if (!(await startSending(db, postId, now))) throw new ConflictError('This post was started or changed meanwhile.');
    messages.keep(postId, message);
    log.info({ postId }, 'send started');
    d.wake();
    await d.snapshot(postId, options.snapshotWaitPages);
  }

  async function pause(postId: number, reason?: string): Promise<void> {
    const post = await existing(postId);
    if (post.status !== 'sending' && post.status !== 'paused') throw new ConflictError(`This post is ${post.status}; only a send in progress can be paused.`);
    const now = clock.now();
    await db.transaction().execute(async (trx) => {
      if (!(await pausePost(trx, postId, reason?.trim() || 'Paused by the writer.', null, now))) return;
      await releasePostClaims(trx, postId, now);
    });
    d.forget(postId);
  }

  /** A paused post goes on; a scheduled post held for lateness starts now. */
  async function resume(postId: number): Promise<void> {
    const post = await existing(postId);
    const now = clock.now();
    if (post.status === 'scheduled' && post.held_reason) {
      await clearHold(db, postId, now);
      return start(postId);
    }
    if (!(await resumePost(db, postId, now))) throw new ConflictError(`This post is ${post.status}; only a paused send can be resumed.`);
    messages.forget(postId);
    d.wake();
    if (post.audience_frozen_at === null) await d.snapshot(postId, options.snapshotWaitPages);
  }

  async function cancel(postId: number): Promise<void> {
    const post = await existing(postId);
    const now = clock.now();
    const changed = await db.transaction().execute(async (trx) => {
      if (!(await cancelPost(trx, postId, now))) return false;
      await cancelPostDeliveries(trx, postId, now);
      return true;
    });
    if (!changed) throw new ConflictError(`This post is ${post.status}; it cannot be cancelled.`);
    d.forget(postId);
  }

  /** Re-queues unknown and/or failed recipients with the same Message-ID; returns how many. */
  async function retryRecipients(postId: number, statuses: Requeueable[]): Promise<number> {
    const post = await existing(postId);
    if (post.status === 'cancelled' || post.status === 'draft' || post.status === 'scheduled') {
      throw new ConflictError(`This post is ${post.status}; its recipients cannot be retried.`);
    }
    const wanted = statuses.filter((s) => s === 'unknown' || s === 'failed');
    if (wanted.length === 0) return 0;
    const now = clock.now();
    const count = await db.transaction().execute(async (trx) => {
      const n = await requeueDeliveries(trx, postId, wanted, now);
      if (n > 0) await reopenSentPost(trx, postId, now);
      return n;
    });
    if (count > 0) d.wake();
    return count;
  }

  return { start, pause, resume, cancel, retryRecipients };
}
