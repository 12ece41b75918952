import type { EngineLog, EngineOptions } from './options.js';
import type { Rests } from './rests.js';

export interface BackgroundLoopDeps {
  options: EngineOptions;
  log: EngineLog;
  rests: Rests;
  /** Start-up recovery of the rows of senders that stopped. */
  recover(): Promise<void>;
  /** The housekeeping chores (the job registry runs them afterwards). */
  housekeeping(): Promise<unknown>;
  /** Renews this sender's lease (cheap when it is not due). */
  heartbeat(): Promise<void>;
  /** Sends everything that is due now (Pipeline.drain). */
  drain(): Promise<void>;
  finishPosts(): Promise<unknown>;
}

/**
 * The engine's background send loop: after recovery and one housekeeping pass, it drains the send loop,
 * renewing this sender's lease while a drain runs long, finishes the posts that were sent, and rests until
 * woken by new work or the poll interval (for retries that fall due). Errors are logged, never thrown:
 * the next pass tries again.
 */
export function createBackgroundLoop(d: BackgroundLoopDeps) {
  const { options, log, rests } = d;
  let loop: Promise<void> | undefined;
  let stopped = false;

  const safely = async (what: string, f: () => Promise<unknown>) => {
    try {
      await f();
    } catch (err) {
      log.error({ err }, `sending engine: ${what} failed`);
    }
  };

  async function run(): Promise<void> {
    await safely('recovery', d.recover);
    // Interrupted snapshots and posts that fell due while the server was down go on now, not at the
    // housekeeping job's first tick.
    await safely('housekeeping', d.housekeeping);
    while (!stopped) {
      rests.passBegins();
      await safely('lease renewal', d.heartbeat);
      let drained = false;
      const draining = d.drain().then(
        () => (drained = true),
        () => (drained = true),
      );
      while (!drained && !stopped) {
        await Promise.race([draining, rests.rest(options.housekeepingIntervalMs, 'housekeeping')]);
        if (!drained && !stopped) await safely('lease renewal', d.heartbeat);
      }
      if (stopped) break;
      await safely('finishing posts', d.finishPosts);
      await rests.rest(options.pollIntervalMs, 'idle');
    }
  }

  return {
    start(): void {
      if (loop) return;
      stopped = false;
      loop = run().catch((err: unknown) => log.error({ err }, 'sending engine stopped unexpectedly'));
    },
    /** No pass or rest begins after this; the one under way ends at its next step. */
    halt(): void {
      stopped = true;
      rests.stop();
    },
    /** Resolves once the loop has ended (after halt). */
    async ended(): Promise<void> {
      if (loop) await loop;
      loop = undefined;
    },
  };
}
