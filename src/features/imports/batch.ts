import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { parseJsonObject, toJson } from '../../db/codec.js';
import type { DbOrTx } from '../../db/database.js';
import { randomToken } from '../../lib/tokens.js';
import { bulkRows, bulkValues } from './bulk-rows.js';
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
}

export interface BatchContext {
  importId: number;
  publicId: string;
  newsletterId: number;
  mode: ImportMode;
  at: number;
}

interface Subscriber {
  id: number;
  email: string;
  name: string;
  attributes: string;
}

/**
 * Writes one batch inside the caller's transaction, idempotently: an import fills in what is missing
 * (new subscribers, a subscription to this newsletter, an empty name, absent attributes, tags) and never
 * overwrites what is there. An unsubscribed or suppressed address is skipped and reported, never
 * resubscribed; "already confirmed" may activate a pending subscription, never revive an ended one.
 * Every statement is set-based, with the batch's rows as one parameter (see bulkRows).
 */
export async function applyBatch(db: DbOrTx, ctx: BatchContext, rows: ImportRowInput[]): Promise<BatchOutcome> {
  const out: BatchOutcome = { created: 0, updated: 0, skipped: 0, problems: [], pending: [] };
  if (rows.length === 0) return out;
  const { at } = ctx;

  const suppressed = new Set(
    (await sql<{ email_hash: string }>`select email_hash from suppressions where email_hash in (select value from ${bulkValues(db, 'text', rows.map((r) => r.hash))})`.execute(db)).rows.map((r) => r.email_hash),
  );
  const live: ImportRowInput[] = [];
  for (const row of rows) {
    if (suppressed.has(row.hash)) {
      out.skipped++;
      out.problems.push({ line: row.line, email: row.email, reason: 'suppressed (bounced, complained or blocked): skipped' });
    } else live.push(row);
  }
  if (live.length === 0) return out;

  const subscribers = new Map((await selectSubscribers(db, live.map((r) => r.email))).map((s) => [s.email, s]));
  // New addresses; a concurrent sign-up of the same address wins quietly (DO NOTHING) and is read back.
  const fresh = live.filter((r) => !subscribers.has(r.email));
  const inserted = new Set<string>();
  if (fresh.length > 0) {
    const tokens = batchTokens(fresh.length);
    const values = bulkRows(
      db,
      { email: 'text', email_hash: 'text', name: 'text', attributes: 'text', token: 'text' },
      fresh.map((r, i) => [r.email, r.hash, r.name, toJson(r.attributes), tokens[i]]),
    );
    const created = await sql<{ id: number; email: string }>`
      insert into subscribers (email, email_hash, name, attributes, token, source, ip, created_at, updated_at)
      select v.email, v.email_hash, v.name, v.attributes, v.token, 'import', null, cast(${at} as bigint), cast(${at} as bigint)
      from ${values} where true
      on conflict (email) do nothing
      returning id, email`.execute(db);
    const byEmail = new Map(fresh.map((r) => [r.email, r]));
    for (const c of created.rows) {
      const row = byEmail.get(c.email)!;
      subscribers.set(c.email, { id: c.id, email: c.email, name: row.name, attributes: toJson(row.attributes) });
      inserted.add(c.email);
    }
    const raced = fresh.filter((r) => !inserted.has(r.email)).map((r) => r.email);
    if (raced.length > 0) for (const s of await selectSubscribers(db, raced)) subscribers.set(s.email, s);
  }
  // Only subscribers that were already there can have a subscription. By subscriber only, newsletter
  // filtered here: given "newsletter_id = ?" too, SQLite without statistics walks the newsletter's whole
  // audience index instead, and imports turn quadratic.
  const existingIds = [...subscribers.values()].filter((s) => !inserted.has(s.email)).map((s) => s.id);
  const subscriptions = new Map<number, { id: number; status: string }>();
  if (existingIds.length > 0) {
    const found = await sql<{ id: number; subscriber_id: number; newsletter_id: number; status: string }>`
      select id, subscriber_id, newsletter_id, status from subscriptions
      where subscriber_id in (select value from ${bulkValues(db, 'bigint', existingIds)})`.execute(db);
    for (const s of found.rows) if (s.newsletter_id === ctx.newsletterId) subscriptions.set(s.subscriber_id, s);
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
        await db.updateTable('subscribers').set({ ...fill, updated_at: at }).where('id', '=', s.id).execute();
        changed.add(s.id);
      }
    }
    if (!sub) toSubscribe.push({ row, subscriberId: s.id });
    else if (sub.status === 'pending' && ctx.mode === 'confirmed') toActivate.push(sub.id);
    for (const tagId of row.tagIds) wantedTags.push([s.id, tagId]);
  }

  if (toSubscribe.length > 0) {
    const status = ctx.mode === 'confirmed' ? 'active' : 'pending';
    const created = await sql<{ id: number; subscriber_id: number }>`
      insert into subscriptions (subscriber_id, newsletter_id, status, source, consent_ip, confirm_sent_at, created_at, confirmed_at, unsubscribed_at, updated_at)
      select v.value, cast(${ctx.newsletterId} as integer), cast(${status} as text), 'import', null, null, cast(${at} as bigint),
        cast(${status === 'active' ? at : null} as bigint), null, cast(${at} as bigint)
      from ${bulkValues(db, 'bigint', toSubscribe.map((t) => t.subscriberId))} where true
      on conflict (subscriber_id, newsletter_id) do nothing
      returning id, subscriber_id`.execute(db);
    out.created = created.rows.length;
    const emailOf = new Map(toSubscribe.map((t) => [t.subscriberId, t.row.email]));
    if (status === 'pending') {
      for (const c of created.rows) out.pending.push({ subscriberId: c.subscriber_id, email: emailOf.get(c.subscriber_id)!, subscriptionId: c.id });
    }
    if (created.rows.length > 0) {
      await sql`
        insert into events (type, subscriber_id, newsletter_id, post_id, data, created_at)
        select 'imported', v.value, cast(${ctx.newsletterId} as integer), null, cast(${toJson({ import: ctx.publicId, status })} as text), cast(${at} as bigint)
        from ${bulkValues(db, 'bigint', created.rows.map((c) => c.subscriber_id))}`.execute(db);
    }
    for (const c of created.rows) createdFor.add(c.subscriber_id);
  }
  if (toActivate.length > 0) {
    // "status || ''" keeps SQLite (without statistics) off the status index: given "status = ?", it
    // walked every pending subscription in the database to find this batch's few by id.
    const activated = await sql<{ subscriber_id: number }>`
      update subscriptions set status = 'active', confirmed_at = ${at}, updated_at = ${at}
      where id in (select value from ${bulkValues(db, 'bigint', toActivate)}) and status || '' = 'pending'
      returning subscriber_id`.execute(db);
    for (const a of activated.rows) changed.add(a.subscriber_id);
  }
  if (wantedTags.length > 0) {
    const added = await sql<{ subscriber_id: number }>`
      insert into subscriber_tags (subscriber_id, tag_id)
      select v.subscriber_id, v.tag_id from ${bulkRows(db, { subscriber_id: 'bigint', tag_id: 'bigint' }, wantedTags)} where true
      on conflict (subscriber_id, tag_id) do nothing
      returning subscriber_id`.execute(db);
    for (const a of added.rows) changed.add(a.subscriber_id);
  }
  // A subscriber counts once: as created when this import subscribed them, else as updated.
  out.updated = [...changed].filter((id) => !createdFor.has(id)).length;
  return out;
}

async function selectSubscribers(db: DbOrTx, emails: string[]): Promise<Subscriber[]> {
  const found = await sql<Subscriber>`
    select id, email, name, attributes from subscribers
    where email in (select value from ${bulkValues(db, 'text', emails)})`.execute(db);
  return found.rows;
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
