import type { Db, DbOrTx } from '../../db/database.js';
import type { FeedbackOutcome } from '../../db/tables/feedback.js';
import { recordEvent } from '../../domain/events.js';
import { emailHash, suppress } from '../../domain/suppressions.js';
import type { Clock } from '../../lib/clock.js';
import { normalizeEmail } from '../../lib/email.js';
import { verpDeliveryId } from '../../lib/verp.js';
import { unsubscribe } from '../subscribers/repository.js';
import { parseStoredPolicy, softStreak, softWindowStart, type BouncePolicy } from './policy.js';
import type { FeedbackReport, FeedbackSink } from './report.js';
import * as repo from './repository.js';
import { createFeedbackViews } from './views.js';

export interface FeedbackLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface FeedbackServiceDeps {
  db: Db;
  clock: Clock;
  /** Checks VERP tokens (src/lib/verp.ts). */
  secretKey: string;
  log?: FeedbackLog;
}

export const POLICY_KEY = 'feedback.policy';
/** Raw payloads are kept this long for the writer to inspect, then emptied by the feedback-prune job. */
export const RAW_RETENTION_MS = 30 * 86_400_000;
const RAW_MAX = 256 * 1024;
/** Postgres refuses NUL in text, and a relay's payload may carry one: it is dropped, not a reason to fail. */
const text = (value: string, max: number) => value.replace(/\u0000/g, '').slice(0, max);
const optionalText = (value: string | undefined, max: number) => (value === undefined ? undefined : text(value, max));

export type FeedbackService = ReturnType<typeof createFeedbackService>;

/**
 * The one feedback pipeline: every source (relay webhooks, the bounce mailbox) hands its reports to
 * `record`, which stores each once per (source, report id), ties it to a delivery when it can, and applies
 * the policy in the same transaction. Nothing here talks to the network.
 */
export function createFeedbackService(deps: FeedbackServiceDeps) {
  const { db, clock } = deps;

  async function policy(conn: DbOrTx = db): Promise<BouncePolicy> {
    return parseStoredPolicy(await repo.readSetting(conn, POLICY_KEY));
  }

  async function match(trx: DbOrTx, ref: FeedbackReport['messageRef']): Promise<repo.DeliveryMatch | undefined> {
    const messageId = ref.messageId?.trim().replace(/^<|>$/g, '');
    if (messageId) {
      const found = await repo.deliveryByMessageId(trx, messageId);
      if (found) return found;
    }
    const relayId = ref.relayId?.trim().replace(/^<|>$/g, '');
    if (relayId) {
      const found = (await repo.deliveryByRelayId(trx, relayId)) ?? (await repo.deliveryByMessageId(trx, relayId));
      if (found) return found;
    }
    const id = ref.verpToken ? verpDeliveryId(ref.verpToken, deps.secretKey) : null;
    return id === null ? undefined : repo.deliveryById(trx, id);
  }

  /** Applies the policy to a stored report; returns what it did. */
  async function apply(trx: DbOrTx, r: FeedbackReport, address: string, found: repo.DeliveryMatch | undefined, subscriberId: number | null, now: number): Promise<FeedbackOutcome> {
    const detail = [r.diagnosticCode, r.diagnosticText].filter(Boolean).join(' ').slice(0, 500);
    const event = { at: now, subscriberId, newsletterId: found?.newsletterId ?? null, postId: found?.postId ?? null };
    const data = { source: r.source, code: r.diagnosticCode ?? null, text: r.diagnosticText?.slice(0, 300) ?? null };
    switch (r.kind) {
      case 'hard_bounce':
        await suppress(trx, address, 'bounced', now, detail || 'hard bounce', r.source);
        await recordEvent(trx, { ...event, type: 'bounced', data: { ...data, kind: 'hard' } });
        return 'suppressed';
      case 'complaint': {
        await suppress(trx, address, 'complained', now, detail || 'marked as spam', r.source);
        await recordEvent(trx, { ...event, type: 'complained', data });
        if (subscriberId !== null) await unsubscribeAll(trx, subscriberId, 'complaint', now);
        return 'suppressed';
      }
      case 'soft_bounce': {
        await recordEvent(trx, { ...event, type: 'bounced', data: { ...data, kind: 'soft' } });
        const p = await policy(trx);
        const since = softWindowStart(p, now);
        const hash = emailHash(address);
        const bounces = await repo.softBouncesSince(trx, hash, since);
        const latest = bounces.find((b) => b.deliveryId === found?.deliveryId) ?? bounces[0];
        const placedAt = latest?.sentAt ?? latest?.occurredAt ?? now;
        const cleanAt = await repo.lastCleanDelivery(trx, address, since, placedAt);
        const streak = softStreak(bounces, cleanAt);
        if (streak < p.softLimit) return 'counted';
        await suppress(trx, address, 'bounced', now, `${streak} soft bounces within ${p.softWindowDays} days${detail ? `; last: ${detail}` : ''}`, r.source);
        return 'suppressed';
      }
      case 'unsubscribe':
        if (subscriberId === null) return 'ignored';
        await unsubscribeAll(trx, subscriberId, r.source, now, found?.newsletterId ?? null);
        return 'unsubscribed';
    }
  }

  async function unsubscribeAll(trx: DbOrTx, subscriberId: number, source: string, now: number, newsletterId: number | null = null): Promise<void> {
    const changed = await unsubscribe(trx, subscriberId, newsletterId, now);
    for (const n of changed) await recordEvent(trx, { type: 'unsubscribed', at: now, subscriberId, newsletterId: n, data: { source } });
  }

  async function recordOne(trx: DbOrTx, input: FeedbackReport, now: number): Promise<boolean> {
    const r: FeedbackReport = {
      ...input,
      reportId: text(input.reportId, 500),
      messageRef: {
        messageId: optionalText(input.messageRef.messageId, 500),
        relayId: optionalText(input.messageRef.relayId, 500),
        verpToken: optionalText(input.messageRef.verpToken, 100),
      },
      address: text(input.address, 320),
      diagnosticCode: optionalText(input.diagnosticCode, 50),
      diagnosticText: optionalText(input.diagnosticText, 1000),
      raw: text(input.raw, RAW_MAX),
    };
    const found = await match(trx, r.messageRef);
    const address = normalizeEmail(r.address || found?.email || '');
    const hash = emailHash(address);
    const subscriberId = found?.subscriberId ?? (address ? ((await repo.subscriberIdByEmail(trx, address)) ?? null) : null);
    // A hard bounce or complaint with an address always ends suppressed: stored so, it needs no update after.
    const foreseen: FeedbackOutcome = address && (r.kind === 'hard_bounce' || r.kind === 'complaint') ? 'suppressed' : 'ignored';
    const id = await repo.insertReport(trx, {
      source: r.source,
      report_id: r.reportId,
      kind: r.kind,
      address,
      email_hash: hash,
      delivery_id: found?.deliveryId ?? null,
      post_id: found?.postId ?? null,
      subscriber_id: subscriberId,
      diagnostic_code: r.diagnosticCode ?? null,
      diagnostic_text: r.diagnosticText ?? null,
      outcome: foreseen,
      occurred_at: Number.isSafeInteger(r.occurredAt) ? r.occurredAt : now,
      received_at: now,
      raw: r.raw,
    });
    if (id === undefined) return false;
    // A report without an address names nobody to suppress: it is kept for the writer to look at.
    const outcome = address ? await apply(trx, r, address, found, subscriberId, now) : 'ignored';
    if (outcome !== foreseen) await repo.setOutcome(trx, id, outcome);
    return true;
  }

  /**
   * Records reports in one transaction (one commit for the lot, which is what makes a flood of webhook
   * calls affordable on SQLite); for each, whether it was new (false: already stored, a repeat).
   */
  async function recordEach(reports: FeedbackReport[]): Promise<boolean[]> {
    if (reports.length === 0) return [];
    const now = clock.now();
    return db.transaction().execute(async (trx) => {
      const results: boolean[] = [];
      for (const r of reports) results.push(await recordOne(trx, r, now));
      return results;
    });
  }

  const sink: FeedbackSink = {
    async record(reports) {
      const results = await recordEach(reports);
      const stored = results.filter(Boolean).length;
      const duplicates = results.length - stored;
      if (stored > 0) deps.log?.info({ stored, duplicates }, 'feedback reports recorded');
      return { stored, duplicates };
    },
  };

  return {
    ...sink,
    recordEach,
    policy: () => policy(),
    async savePolicy(p: BouncePolicy): Promise<void> {
      await repo.writeSetting(db, POLICY_KEY, JSON.stringify(p), clock.now());
    },
    /** Empties raw payloads older than RAW_RETENTION_MS; returns how many. */
    pruneRaw: () => repo.pruneRaw(db, clock.now() - RAW_RETENTION_MS),
    ...createFeedbackViews({ db, clock }),
  };
}
