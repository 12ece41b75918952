import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Config } from '../config.js';
import type { ReadAside } from '../db/connect.js';
import type { Db, Dialect } from '../db/database.js';
import { refreshStatistics } from '../db/statistics.js';
import type { Clock } from '../lib/clock.js';
import { ConflictError, NotFoundError } from '../lib/errors.js';
import { parseAudience } from './audience.js';
import type { PostContentRenderer } from './content.js';
import { createDkimSigner, type DkimSigner } from './dkim-pool.js';
import { compileMessage, compileSettings, messageIdDomain, type CompiledMessage } from './message.js';
import { createHousekeeper } from './housekeeping.js';
import { createRests } from './rests.js';
import { DEFAULT_ENGINE_OPTIONS, silentLog, type EngineLog, type EngineOptions } from './options.js';
import { createPipeline } from './pipeline.js';
import { createSendRates, readProgress, type SendProgress } from './progress.js';
import { dropLease, holdLease, liveLeaseOwners } from './leases.js';
import { cancelPostDeliveries, releasePostClaims, requeueDeliveries } from './delivery-transitions.js';
import { cancelPost, clearHold, pausePost, reopenSentPost, resumePost, startSending } from './post-transitions.js';
import { findPost, findPostNewsletter, freezeAudience, snapshotAudience } from './repository.js';
import { createThreadedSmtpTransport } from './smtp-thread.js';
import { createDevOutbox, devOutboxTransport, type DevOutbox } from './dev-outbox.js';
import type { BulkTransport } from './transport.js';

/**
 * The sending engine: turns a post into per-recipient `deliveries` rows and works through them
 * (DESIGN.md "Sending"). Routes and the scheduler talk to it only through this interface.
 */
export interface SendingEngine {
  /** draft|scheduled → snapshot of the audience → sending. ConflictError when the post cannot start. */
  startPost(postId: number): Promise<void>;
  pausePost(postId: number, reason?: string): Promise<void>;
  /** A paused post goes on; a scheduled post held for lateness starts now. */
  resumePost(postId: number): Promise<void>;
  cancelPost(postId: number): Promise<void>;
  /** Re-queues unknown and/or failed recipients with the same Message-ID; returns how many. */
  retryRecipients(postId: number, statuses: Array<'unknown' | 'failed'>): Promise<number>;
  progress(postId: number): Promise<SendProgress>;
  /**
   * The housekeeping chores: recovery of dead senders (Postgres), auto-resume after relay trouble, scheduled
   * starts, unfinished snapshots, finished posts. The "sending-housekeeping" job calls it on its schedule.
   */
  housekeepOnce(): Promise<void>;
  /** One pass for tests and tools: the chores, then sends what is due until nothing is left. */
  runOnce(): Promise<void>;
  /** Start-up recovery: claimed rows of dead senders → queued, attempting → unknown. */
  recover(): Promise<void>;
  /**
   * Recovery and one housekeeping pass, then the background send loop (the server calls this after
   * listen). The loop is woken by new work and polls for due retries; the chores run from the job.
   */
  start(): void;
  /** Stops claiming, finishes and records in-flight messages, closes connections. */
  stop(): Promise<void>;
}

export type { SendProgress } from './progress.js';

export interface SendingEngineDeps {
  db: Db;
  /** The send loop's connections (DbHandle.sendDb); `db` when not given. */
  sendDb?: Db;
  /** Where the progress counts run off the main thread (DbHandle.readAside); here when not given. */
  readAside?: ReadAside;
  dialect: Dialect;
  config: Config;
  clock: Clock;
  renderer: PostContentRenderer;
  /** Defaults: the SMTP pool (in a worker thread) when SMTP is configured, else the dev outbox. */
  transport?: BulkTransport;
  /** The app's dev outbox, which the default transport stores into when SMTP is not configured. */
  devOutbox?: DevOutbox;
  /** Defaults to worker-thread signing when DKIM is configured; null turns signing off. */
  signer?: DkimSigner | null;
  log?: EngineLog;
  options?: Partial<EngineOptions>;
}

export function createSendingEngine(deps: SendingEngineDeps): SendingEngine {
  const { db, dialect, config, clock, renderer } = deps;
  const log = deps.log ?? silentLog;
  const options: EngineOptions = { ...DEFAULT_ENGINE_OPTIONS, ...deps.options };
  const owner = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const settings = compileSettings(config);
  const transport =
    deps.transport ??
    (config.smtp
      ? createThreadedSmtpTransport(config.smtp, { size: config.smtpPoolSize, clientName: new URL(config.baseUrl).hostname })
      : devOutboxTransport(deps.devOutbox ?? createDevOutbox(db, clock)));
  let signer: DkimSigner | null | undefined = deps.signer;
  const getSigner = () => (signer === undefined ? (signer = config.dkim ? createDkimSigner(config.dkim) : null) : signer);

  const compiled = new Map<number, Promise<CompiledMessage>>();
  const preparing = new Set<number>();

  async function compile(postId: number): Promise<CompiledMessage> {
    const post = await findPost(db, postId);
    if (!post) throw new NotFoundError('That post does not exist.');
    const newsletter = await findPostNewsletter(db, post);
    return compileMessage(post, newsletter, await renderer(post, newsletter), settings);
  }
  const compiledFor = (postId: number): Promise<CompiledMessage> => {
    let c = compiled.get(postId);
    if (!c) {
      c = compile(postId);
      c.catch(() => compiled.delete(postId));
      compiled.set(postId, c);
    }
    return c;
  };

  async function pauseWith(postId: number, reason: string, resumeAt: number | null): Promise<boolean> {
    const now = clock.now();
    const changed = await db.transaction().execute(async (trx) => {
      if (!(await pausePost(trx, postId, reason, resumeAt, now))) return false;
      await releasePostClaims(trx, postId, now);
      return true;
    });
    pipeline.forget(postId);
    compiled.delete(postId);
    return changed;
  }

  const pipeline = createPipeline({
    db: deps.sendDb ?? db,
    dialect,
    clock,
    owner,
    transport,
    signer: getSigner,
    compiled: compiledFor,
    options,
    sendRate: config.sendRate,
    log,
  });

  /**
   * Writes the audience into deliveries (idempotent, resumable), then freezes it. With `maxPages`,
   * returns after that many pages and finishes in the background: a big list does not hold up the
   * writer's request, and sending already starts on the first pages.
   */
  async function snapshot(postId: number, maxPages?: number): Promise<void> {
    if (preparing.has(postId)) return;
    preparing.add(postId);
    let rest = false;
    try {
      const post = await findPost(db, postId);
      if (!post || post.audience_frozen_at !== null || (post.status !== 'sending' && post.status !== 'paused')) return;
      const newsletter = await findPostNewsletter(db, post);
      const { inserted, done } = await snapshotAudience(db, {
        postId,
        newsletterId: post.newsletter_id,
        audience: parseAudience(post.audience),
        dialect,
        domain: messageIdDomain(newsletter, settings),
        now: clock.now(),
        pageSize: options.snapshotPageSize,
        maxPages,
        // Pages are synchronous work on SQLite (~5 ms for 500 rows, 1 s for 100,000). In the background,
        // rest as long as each page took, so the snapshot takes at most half of the main thread and
        // requests and the send loop run in between (they waited behind it: subscribe page p99 ~100 ms as
        // a big send started); the first pages, which the writer's request waits for, go without rests.
        // And wake the send loop, which may have run out of rows before this page was written.
        between: (pageMs) => {
          wake();
          if (maxPages !== undefined) return new Promise<void>((resolve) => setImmediate(resolve));
          return new Promise<void>((resolve) => setTimeout(resolve, Math.min(pageMs, 100)));
        },
      });
      // Postgres plans the claim and marker statements from table statistics: right after a snapshot of
      // thousands of rows they are missing (see refreshStatistics). Only stale tables are analyzed.
      if (dialect === 'postgres' && inserted > 0) await refreshStatistics(db, ['deliveries', 'subscriptions', 'subscribers', 'suppressions']);
      if (!done) {
        rest = true;
        return;
      }
      await freezeAudience(db, postId, clock.now());
      log.info({ postId, recipients: inserted }, 'audience snapshot written');
    } finally {
      preparing.delete(postId);
      pipeline.wake();
      if (rest) setImmediate(() => void snapshot(postId).catch((err: unknown) => log.error({ err, postId }, 'audience snapshot failed; it resumes at the next housekeeping')));
    }
  }

  const housekeeper = createHousekeeper({
    db,
    dialect,
    clock,
    options,
    owner,
    scheduleMaxLatenessMs: config.scheduleMaxLatenessMs,
    transport,
    log,
    startPost: (postId) => engine.startPost(postId),
    snapshot,
    // The whole loop: the chores run outside it, and a send they resume must not wait for its idle rest.
    wake: () => wake(),
    finished: (postId) => compiled.delete(postId),
  });
  const housekeeping = () => housekeeper.run();
  const heartbeat = () => housekeeper.heartbeat();
  const finishPosts = () => housekeeper.finishPosts();

  // Background loop state (start/stop).
  let loop: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let stopped = false;
  const rests = createRests();
  const rates = createSendRates();
  const wake = () => {
    pipeline.wake();
    rests.wake();
  };
  const safely = async (what: string, f: () => Promise<void>) => {
    try {
      await f();
    } catch (err) {
      log.error({ err }, `sending engine: ${what} failed`);
    }
  };

  async function background(): Promise<void> {
    await safely('recovery', () => engine.recover());
    // Interrupted snapshots and posts that fell due while the server was down go on now, not at the
    // housekeeping job's first tick.
    await safely('housekeeping', housekeeping);
    while (!stopped) {
      rests.passBegins();
      await safely('lease renewal', heartbeat);
      let drained = false;
      const draining = pipeline.drain().then(
        () => (drained = true),
        () => (drained = true),
      );
      while (!drained && !stopped) {
        await Promise.race([draining, rests.rest(options.housekeepingIntervalMs, 'housekeeping')]);
        if (!drained && !stopped) await safely('lease renewal', heartbeat);
      }
      if (stopped) break;
      await safely('finishing posts', finishPosts);
      await rests.rest(options.pollIntervalMs, 'idle');
    }
  }

  const engine: SendingEngine = {
    async startPost(postId) {
      const post = await findPost(db, postId);
      if (!post) throw new NotFoundError('That post does not exist.');
      if (post.status !== 'draft' && post.status !== 'scheduled') {
        throw new ConflictError(`This post is ${post.status}; only a draft or a scheduled post can be sent.`);
      }
      // Render before changing anything: a post that cannot be built never starts.
      let message: CompiledMessage;
      try {
        message = await compile(postId);
      } catch (err) {
        throw new ConflictError(`This post cannot be sent: ${(err as Error).message}`);
      }
      const now = clock.now();
      if (!(await startSending(db, postId, now))) throw new ConflictError('This post was started or changed meanwhile.');
      compiled.set(postId, Promise.resolve(message));
      log.info({ postId }, 'send started');
      wake();
      await snapshot(postId, options.snapshotWaitPages);
    },

    async pausePost(postId, reason) {
      const post = await findPost(db, postId);
      if (!post) throw new NotFoundError('That post does not exist.');
      if (post.status !== 'sending' && post.status !== 'paused') throw new ConflictError(`This post is ${post.status}; only a send in progress can be paused.`);
      await pauseWith(postId, reason?.trim() || 'Paused by the writer.', null);
    },

    async resumePost(postId) {
      const post = await findPost(db, postId);
      if (!post) throw new NotFoundError('That post does not exist.');
      const now = clock.now();
      if (post.status === 'scheduled' && post.held_reason) {
        await clearHold(db, postId, now);
        return engine.startPost(postId);
      }
      if (!(await resumePost(db, postId, now))) throw new ConflictError(`This post is ${post.status}; only a paused send can be resumed.`);
      compiled.delete(postId);
      wake();
      if (post.audience_frozen_at === null) await snapshot(postId, options.snapshotWaitPages);
    },

    async cancelPost(postId) {
      const post = await findPost(db, postId);
      if (!post) throw new NotFoundError('That post does not exist.');
      const now = clock.now();
      const changed = await db.transaction().execute(async (trx) => {
        if (!(await cancelPost(trx, postId, now))) return false;
        await cancelPostDeliveries(trx, postId, now);
        return true;
      });
      if (!changed) throw new ConflictError(`This post is ${post.status}; it cannot be cancelled.`);
      pipeline.forget(postId);
      compiled.delete(postId);
    },

    async retryRecipients(postId, statuses) {
      const post = await findPost(db, postId);
      if (!post) throw new NotFoundError('That post does not exist.');
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
      if (count > 0) wake();
      return count;
    },

    async progress(postId) {
      return readProgress(db, postId, clock.now(), deps.readAside, rates);
    },

    housekeepOnce: housekeeping,

    async runOnce() {
      await housekeeping();
      await pipeline.drain();
      await finishPosts();
    },

    async recover() {
      // SQLite has one sending process, so at start-up every other owner is gone; on Postgres only
      // senders whose lease ran out are (the others are alive and sending).
      const now = clock.now();
      await holdLease(db, `sender:${owner}`, owner, now, options.leaseTtlMs);
      await housekeeper.recover(dialect === 'postgres' ? await liveLeaseOwners(db, 'sender:', now) : [owner]);
    },

    start() {
      if (loop) return;
      stopped = false;
      loop = background().catch((err: unknown) => log.error({ err }, 'sending engine stopped unexpectedly'));
    },

    stop() {
      stopping ??= (async () => {
        stopped = true;
        rests.stop();
        await pipeline.stop();
        if (loop) await loop;
        loop = undefined;
        await transport.close();
        await signer?.close();
        await dropLease(db, `sender:${owner}`, owner).catch(() => undefined);
      })();
      return stopping;
    },
  };
  return engine;
}
