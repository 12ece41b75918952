import type { Insertable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { HitKind, HitVerdict, TrackingHitsTable } from '../../db/tables/tracking.js';
import type { Clock } from '../../lib/clock.js';
import { BURST_WINDOW_MS, HitContext, requestVerdict, type ContextHit } from './classify.js';
import { deliveryFacts, insertHits, postTrackingModes } from './repository.js';

/**
 * Hits are answered at once and recorded later, in batches: a request only appends to a buffer, and a
 * flush classifies and inserts everything that has waited out the burst window in one transaction. A
 * flush runs every `flushEveryMs`, and at once when the buffer holds `maxPending` hits (the request that
 * fills it waits for that flush, so memory stays bounded under any spike); `close()` flushes everything.
 */

export interface IncomingHit {
  postId: number;
  kind: HitKind;
  linkId: number | null;
  /** The verified delivery id of a personal token, or null. */
  deliveryId: number | null;
  method: string;
  userAgent: string;
  ip: string;
}

interface PendingHit extends ContextHit {
  verdict: HitVerdict | undefined;
}

export interface HitRecorder {
  record(hit: IncomingHit): Promise<void>;
  /** Records the hits that have waited out the burst window (all of them with `everything`). */
  flush(everything?: boolean): Promise<number>;
  pending(): number;
  close(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The app's one hit recorder (tests flush it instead of waiting for its timer). */
    hitRecorder: HitRecorder;
  }
}

export interface RecorderOptions {
  flushEveryMs: number;
  maxPending: number;
  log?: { error(obj: object, msg?: string): void };
}

export function createHitRecorder(db: Db, clock: Clock, options: RecorderOptions): HitRecorder {
  let buffer: PendingHit[] = [];
  let flushing: Promise<number> | undefined;
  const context = new HitContext();
  const timer = setInterval(() => void flush(false).catch(() => undefined), options.flushEveryMs);
  timer.unref();

  async function write(batch: PendingHit[]): Promise<number> {
    const modes = await postTrackingModes(db, [...new Set(batch.map((h) => h.postId))]);
    const deliveries = await deliveryFacts(db, [...new Set(batch.flatMap((h) => (h.deliveryId === null ? [] : [h.deliveryId])))]);
    // A personal token is only trusted for its own post's delivery.
    for (const h of batch) if (h.deliveryId !== null && deliveries.get(h.deliveryId)?.postId !== h.postId) h.deliveryId = null;
    const judged = context.judge(batch, (id) => deliveries.get(id)?.sentAt ?? null);
    context.remember(batch, clock.now());
    const rows: Array<Insertable<TrackingHitsTable>> = [];
    batch.forEach((h, i) => {
      const mode = modes.get(h.postId)?.mode;
      // A newsletter whose tracking is off now records nothing, even from mail sent while it was on.
      if (mode === undefined || mode === 'off') return;
      const d = h.deliveryId === null ? undefined : deliveries.get(h.deliveryId);
      const personal = mode === 'subscriber' && d?.consents === true && d.subscriberId !== null;
      rows.push({
        post_id: h.postId,
        kind: h.kind,
        link_id: h.linkId,
        delivery_id: personal ? h.deliveryId : null,
        subscriber_id: personal ? d!.subscriberId : null,
        verdict: h.verdict ?? judged[i]!,
        created_at: h.at,
      });
    });
    await insertHits(db, rows);
    return rows.length;
  }

  async function flushOnce(everything: boolean): Promise<number> {
    const cutoff = clock.now() - BURST_WINDOW_MS;
    let take = buffer.length;
    if (!everything) while (take > 0 && buffer[take - 1]!.at > cutoff) take--;
    if (take === 0) return 0;
    const batch = buffer.slice(0, take);
    buffer = buffer.slice(take);
    try {
      return await write(batch);
    } catch (err) {
      // Kept for the next flush rather than lost; the buffer bound still applies.
      buffer = batch.concat(buffer).slice(-options.maxPending * 2);
      options.log?.error({ err }, 'could not record tracking hits');
      throw err;
    }
  }

  function flush(everything = false): Promise<number> {
    if (flushing) return flushing.then(() => flush(everything));
    flushing = flushOnce(everything).finally(() => (flushing = undefined));
    return flushing;
  }

  return {
    async record(hit) {
      const at = clock.now();
      buffer.push({
        at,
        postId: hit.postId,
        kind: hit.kind,
        linkId: hit.linkId,
        deliveryId: hit.deliveryId,
        ip: hit.ip,
        verdict: requestVerdict({ kind: hit.kind, method: hit.method, userAgent: hit.userAgent, ip: hit.ip }),
      });
      if (buffer.length >= options.maxPending) await flush(true).catch(() => undefined);
    },
    flush,
    pending: () => buffer.length,
    async close() {
      clearInterval(timer);
      if (flushing) await flushing.catch(() => undefined);
      await flush(true);
    },
  };
}
