import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Config } from '../config.js';
import type { ReadAside } from '../db/connect.js';
import type { Db, Dialect } from '../db/database.js';
import type { Clock } from '../lib/clock.js';
import { createAudienceSnapshot } from './audience-snapshot.js';
import { createBackgroundLoop } from './background-loop.js';
import type { PostContentRenderer } from './content.js';
import { createDkimSigner, type DkimSigner } from './dkim-pool.js';
import { compileSettings } from './message.js';
import { createHousekeeper } from './housekeeping.js';
import { createRests } from './rests.js';
import { DEFAULT_ENGINE_OPTIONS, silentLog, type EngineLog, type EngineOptions } from './options.js';
import { createPipeline } from './pipeline.js';
import { createPostCommands } from './post-commands.js';
import { createPostMessages } from './post-messages.js';
import { createSendRates, readProgress, type SendProgress } from './progress.js';
import type { RelayRateState } from './relay-rate.js';
import { dropLease, holdLease, liveLeaseOwners } from './lease-repository.js';
import { createThreadedSmtpTransport } from './smtp-thread.js';
import { createDevOutbox, devOutboxTransport, type DevOutbox } from './dev-outbox.js';
import type { BulkTransport } from './transport.js';
import type { SendObserver } from './observer.js';

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
   * Resolves to how many posts or recipients it acted on.
   */
  housekeepOnce(): Promise<number>;
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
  /** Hears every recorded outcome (the metrics); see observer.ts. */
  observer?: SendObserver;
}

/** A rate answer this recent (on the pacing clock) still describes the relay. */
const RELAY_LIMIT_SHOWN_MS = 5 * 60_000;

/** The relay's allowed rate on the progress of a post that is sending, while the relay throttles. */
function withRelayLimit(progress: SendProgress, relay: RelayRateState): SendProgress {
  const recent = relay.throttledAt !== undefined && performance.now() - relay.throttledAt < RELAY_LIMIT_SHOWN_MS;
  return progress.postStatus === 'sending' && recent && relay.allowed !== undefined ? { ...progress, relayLimit: relay.allowed } : progress;
}

/** The SMTP pool (in a worker thread) when SMTP is configured, else the dev outbox. */
function defaultTransport(deps: SendingEngineDeps): BulkTransport {
  const { config } = deps;
  return config.smtp
    ? createThreadedSmtpTransport(config.smtp, { size: config.smtpPoolSize, clientName: new URL(config.baseUrl).hostname })
    : devOutboxTransport(deps.devOutbox ?? createDevOutbox(deps.db, deps.clock));
}

/**
 * Wires the engine's parts: the writer's commands (post-commands.ts), the audience snapshot, the send
 * loop (pipeline.ts), the housekeeping chores and the background loop that drives the send loop.
 */
export function createSendingEngine(deps: SendingEngineDeps): SendingEngine {
  const { db, dialect, config, clock } = deps;
  const log = deps.log ?? silentLog;
  const options: EngineOptions = { ...DEFAULT_ENGINE_OPTIONS, ...deps.options };
  const owner = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const settings = compileSettings(config);
  const transport = deps.transport ?? defaultTransport(deps);
  let signer: DkimSigner | null | undefined = deps.signer;
  const getSigner = () => (signer === undefined ? (signer = config.dkim ? createDkimSigner(config.dkim) : null) : signer);
  const messages = createPostMessages(db, deps.renderer, settings);

  const pipeline = createPipeline({
    db: deps.sendDb ?? db,
    dialect,
    clock,
    owner,
    transport,
    signer: getSigner,
    compiled: messages.get,
    options,
    sendRate: config.sendRate,
    log,
    ...(deps.observer ? { observer: deps.observer } : {}),
  });
  const rests = createRests();
  const wake = () => {
    pipeline.wake();
    rests.wake();
  };
  const snapshot = createAudienceSnapshot({ db, dialect, clock, options, settings, log, pageWritten: wake, settled: () => pipeline.wake() });
  const commands = createPostCommands({
    db,
    clock,
    options,
    log,
    messages,
    snapshot,
    wake,
    forget: (postId) => {
      pipeline.forget(postId);
      messages.forget(postId);
    },
  });

  const housekeeper = createHousekeeper({
    db,
    dialect,
    clock,
    options,
    owner,
    scheduleMaxLatenessMs: config.scheduleMaxLatenessMs,
    transport,
    log,
    startPost: commands.start,
    snapshot,
    // The whole loop: the chores run outside it, and a send they resume must not wait for its idle rest.
    wake,
    finished: messages.forget,
  });

  async function recover(): Promise<void> {
    // SQLite has one sending process, so at start-up every other owner is gone; on Postgres only
    // senders whose lease ran out are (the others are alive and sending).
    const now = clock.now();
    await holdLease(db, `sender:${owner}`, owner, now, options.leaseTtlMs);
    await housekeeper.recover(dialect === 'postgres' ? await liveLeaseOwners(db, 'sender:', now) : [owner]);
  }

  const background = createBackgroundLoop({
    options,
    log,
    rests,
    recover,
    housekeeping: housekeeper.run,
    heartbeat: housekeeper.heartbeat,
    drain: () => pipeline.drain(),
    finishPosts: housekeeper.finishPosts,
  });
  const rates = createSendRates();
  let stopping: Promise<void> | undefined;

  return {
    startPost: commands.start,
    pausePost: commands.pause,
    resumePost: commands.resume,
    cancelPost: commands.cancel,
    retryRecipients: commands.retryRecipients,
    progress: async (postId) => withRelayLimit(await readProgress(db, postId, clock.now(), deps.readAside, rates), pipeline.relayRate()),
    housekeepOnce: housekeeper.run,
    async runOnce() {
      await housekeeper.run();
      await pipeline.drain();
      await housekeeper.finishPosts();
    },
    recover,
    start: background.start,
    stop() {
      stopping ??= (async () => {
        background.halt();
        await pipeline.stop();
        await background.ended();
        await transport.close();
        await signer?.close();
        await dropLease(db, `sender:${owner}`, owner).catch(() => undefined);
      })();
      return stopping;
    },
  };
}
