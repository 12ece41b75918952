import { randomBytes } from 'node:crypto';
import { parseJsonObject, toJson } from '../../db/codec.js';
import type { DbOrTx } from '../../db/database.js';
import { randomToken } from '../../lib/tokens.js';
import * as repo from './batch-repository.js';
import type { ImportMode, Problem } from './repository.js';

/** One valid, first-seen row of the file, ready to write. */
export interface ImportRowInput {
  line: number;
  email: string;
  hash: string;
  name: string;
  attributes: Record<string, string>;
  tagIds: number[];
}

export interface BatchOutcome {
  created: number;
  updated: number;
  skipped: number;
  problems: Problem[];
  /** New pending subscriptions that still need their confirmation mail (sent after the commit). */
  pending: { subscriberId: number; email: string; subscriptionId: number }[];
  /** Subscribers whose subscription this batch made active (new, or pending until now): for the welcome mail. */
  activated: number[];
}

export interface BatchContext {
  importId: number;
  publicId: string;
  newsletterId: number;
  mode: ImportMode;
  at: number;
}

/**
 * Writes one batch inside the caller's transaction, idempotently: an import fills in what is missing
 * (new subscribers, a subscription to this newsletter, an empty name, absent attributes, tags) and never
 * overwrites what is there. An unsubscribed or suppressed address is skipped and reported, never
 * resubscribed; "already confirmed" may activate a pending subscription, never revive an ended one.
 * Every statement is set-based, with the batch's rows as one parameter (see batch-repository.ts).
 */
export async function applyBatch(db: DbOrTx, ctx: BatchContext, rows: ImportRowInput[]): Promise<BatchOutcome> {
  const out: BatchOutcome = { created: 0, updated: 0, skipped: 0, problems: [], pending: [], activated: [] };
  if (rows.length === 0) return out;
  const { at } = ctx;

  const suppressed = new Set(await repo.suppressedHashes(db, rows.map((r) => r.hash)));
  const live: ImportRowInput[] = [];
  for (const row of rows) {
    if (suppressed.has(row.hash)) {
      out.skipped++;
      out.problems.push({ line: row.line, email: row.email, reason: 'suppressed (bounced, complained or blocked): skipped' });
    } else live.push(row);
  }
  if (live.length === 0) return out;

  const subscribers = new Map((await repo.selectSubscribers(db, live.map((r) => r.email))).map((s) => [s.email, s]));
  // New addresses; a concurrent sign-up of the same address wins quietly (DO NOTHING) and is read back.
  const fresh = live.filter((r) => !subscribers.has(r.email));
  const inserted = new Set<string>();
  if (fresh.length > 0) {
    const tokens = batchTokens(fresh.length);
    const created = await repo.insertSubscribers(
      db,
      fresh.map((r, i) => [r.email, r.hash, r.name, toJson(r.attributes), tokens[i]!]),
      at,
    );
    const byEmail = new Map(fresh.map((r) => [r.email, r]));
    for (const c of created) {
      const row = byEmail.get(c.email)!;
      subscribers.set(c.email, { id: c.id, email: c.email, name: row.name, attributes: toJson(row.attributes) });
      inserted.add(c.email);
    }
    const raced = fresh.filter((r) => !inserted.has(r.email)).map((r) => r.email);
    if (raced.length > 0) for (const s of await repo.selectSubscribers(db, raced)) subscribers.set(s.email, s);
  }
  // Only subscribers that were already there can have a subscription.
  const existingIds = [...subscribers.values()].filter((s) => !inserted.has(s.email)).map((s) => s.id);
  const subscriptions = new Map<number, { id: number; status: string }>();
  if (existingIds.length > 0) {
    for (const s of await repo.subscriptionsOf(db, existingIds)) if (s.newsletter_id === ctx.newsletterId) subscriptions.set(s.subscriber_id, s);
  }

  const toSubscribe: { row: ImportRowInput; subscriberId: number }[] = [];
  const createdFor = new Set<number>();
  const toActivate: number[] = [];
  const changed = new Set<number>();
  const wantedTags: [number, number][] = [];
  for (const row of live) {
    const s = subscribers.get(row.email);
    if (!s) continue; // deleted between our reads: nothing to attach to; the next run adds it
    const sub = subscriptions.get(s.id);
    if (sub?.status === 'unsubscribed') {
      out.skipped++;
      out.problems.push({ line: row.line, email: row.email, reason: 'unsubscribed from this newsletter: skipped' });
      continue;
    }
    if (!inserted.has(row.email)) {
      const fill = fillIn(s, row);
      if (fill) {
        await repo.fillInSubscriber(db, s.id, fill, at);
        changed.add(s.id);
      }
    }
    if (!sub) toSubscribe.push({ row, subscriberId: s.id });
    else if (sub.status === 'pending' && ctx.mode === 'confirmed') toActivate.push(sub.id);
    for (const tagId of row.tagIds) wantedTags.push([s.id, tagId]);
  }

  if (toSubscribe.length > 0) {
    const status = ctx.mode === 'confirmed' ? 'active' : 'pending';
    const created = await repo.insertSubscriptions(db, toSubscribe.map((t) => t.subscriberId), ctx.newsletterId, status, at);
    out.created = created.length;
    const emailOf = new Map(toSubscribe.map((t) => [t.subscriberId, t.row.email]));
    if (status === 'pending') {
      for (const c of created) out.pending.push({ subscriberId: c.subscriber_id, email: emailOf.get(c.subscriber_id)!, subscriptionId: c.id });
    }
    if (created.length > 0) {
      await repo.recordImportedEvents(db, created.map((c) => c.subscriber_id), ctx.newsletterId, toJson({ import: ctx.publicId, status }), at);
    }
    for (const c of created) createdFor.add(c.subscriber_id);
    if (status === 'active') out.activated.push(...created.map((c) => c.subscriber_id));
  }
  if (toActivate.length > 0) {
    const activated = await repo.activatePending(db, toActivate, at);
    out.activated.push(...activated);
    for (const id of activated) changed.add(id);
  }
  if (wantedTags.length > 0) {
    for (const id of await repo.addTags(db, wantedTags)) changed.add(id);
  }
  // A subscriber counts once: as created when this import subscribed them, else as updated.
  out.updated = [...changed].filter((id) => !createdFor.has(id)).length;
  return out;
}

/**
 * Tokens for one batch: a random prefix shared by the batch, then 32 random bytes of each row's own (as
 * much secret as a sign-up's token). Wholly random tokens land all over the token index, so each new
 * subscriber rewrote a different index page at commit — half of what an import wrote; with a shared
 * prefix a batch's tokens fill a few neighbouring pages. The prefix tells nothing about when or who.
 */
function batchTokens(n: number): string[] {
  const prefix = randomToken(8);
  const bytes = randomBytes(32 * n);
  return Array.from({ length: n }, (_, i) => prefix + bytes.toString('base64url', i * 32, i * 32 + 32));
}

/** What an existing subscriber is missing that this row has; undefined when nothing. */
function fillIn(current: { name: string; attributes: string }, row: ImportRowInput): { name?: string; attributes?: string } | undefined {
  const patch: { name?: string; attributes?: string } = {};
  if (!current.name && row.name) patch.name = row.name;
  // Own keys only, on an object without a prototype: "constructor" or "__proto__" is an absent key here.
  const attributes: Record<string, unknown> = Object.assign(Object.create(null), parseJsonObject(current.attributes));
  let added = false;
  for (const [k, v] of Object.entries(row.attributes)) {
    if (attributes[k] === undefined || attributes[k] === '') {
      attributes[k] = v;
      added = true;
    }
  }
  if (added) patch.attributes = toJson(attributes);
  return Object.keys(patch).length > 0 ? patch : undefined;
}
