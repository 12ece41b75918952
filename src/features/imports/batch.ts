import { parseJsonObject, toJson } from '../../db/codec.js';
import type { DbOrTx } from '../../db/database.js';
import { randomToken } from '../../lib/tokens.js';
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

/**
 * Writes one batch inside the caller's transaction, idempotently: an import fills in what is missing
 * (new subscribers, a subscription to this newsletter, an empty name, absent attributes, tags) and never
 * overwrites what is there. An unsubscribed or suppressed address is skipped and reported, never
 * resubscribed; "already confirmed" may activate a pending subscription, never revive an ended one.
 */
export async function applyBatch(db: DbOrTx, ctx: BatchContext, rows: ImportRowInput[]): Promise<BatchOutcome> {
  const out: BatchOutcome = { created: 0, updated: 0, skipped: 0, problems: [], pending: [] };
  if (rows.length === 0) return out;

  const suppressed = new Set(
    (await db.selectFrom('suppressions').select('email_hash').where('email_hash', 'in', rows.map((r) => r.hash)).execute()).map((r) => r.email_hash),
  );
  const live: ImportRowInput[] = [];
  for (const row of rows) {
    if (suppressed.has(row.hash)) {
      out.skipped++;
      out.problems.push({ line: row.line, email: row.email, reason: 'suppressed (bounced, complained or blocked): skipped' });
    } else live.push(row);
  }
  if (live.length === 0) return out;

  // New addresses first; a concurrent sign-up of the same address wins quietly (DO NOTHING).
  const emails = live.map((r) => r.email);
  const known = await db.selectFrom('subscribers').select('email').where('email', 'in', emails).execute();
  const knownEmails = new Set(known.map((k) => k.email));
  const fresh = live.filter((r) => !knownEmails.has(r.email));
  const inserted = new Set<string>();
  if (fresh.length > 0) {
    const rowsIn = await db
      .insertInto('subscribers')
      .values(
        fresh.map((r) => ({
          email: r.email,
          email_hash: r.hash,
          name: r.name,
          attributes: toJson(r.attributes),
          token: randomToken(32),
          source: 'import',
          ip: null,
          created_at: ctx.at,
          updated_at: ctx.at,
        })),
      )
      .onConflict((oc) => oc.column('email').doNothing())
      .returning(['id', 'email'])
      .execute();
    for (const r of rowsIn) inserted.add(r.email);
  }
  const subscribers = new Map(
    (await db.selectFrom('subscribers').select(['id', 'email', 'name', 'attributes']).where('email', 'in', emails).execute()).map((s) => [s.email, s]),
  );
  const ids = [...subscribers.values()].map((s) => s.id);
  // By subscriber only, newsletter filtered here: given "newsletter_id = ?" too, SQLite without
  // statistics walks the newsletter's whole audience index instead, and imports turn quadratic.
  const subscriptions = new Map(
    (await db.selectFrom('subscriptions').select(['id', 'subscriber_id', 'newsletter_id', 'status']).where('subscriber_id', 'in', ids).execute())
      .filter((s) => s.newsletter_id === ctx.newsletterId)
      .map((s) => [s.subscriber_id, s]),
  );

  const toSubscribe: { row: ImportRowInput; subscriberId: number }[] = [];
  const createdFor = new Set<number>();
  const toActivate: number[] = [];
  const changed = new Set<number>();
  const wantedTags: { subscriber_id: number; tag_id: number }[] = [];
  for (const row of live) {
    const s = subscribers.get(row.email);
    if (!s) continue; // deleted between our two reads: nothing to attach to; the next run adds it
    const sub = subscriptions.get(s.id);
    if (sub?.status === 'unsubscribed') {
      out.skipped++;
      out.problems.push({ line: row.line, email: row.email, reason: 'unsubscribed from this newsletter: skipped' });
      continue;
    }
    if (!inserted.has(row.email)) {
      const fill = fillIn(s, row);
      if (fill) {
        await db.updateTable('subscribers').set({ ...fill, updated_at: ctx.at }).where('id', '=', s.id).execute();
        changed.add(s.id);
      }
    }
    if (!sub) toSubscribe.push({ row, subscriberId: s.id });
    else if (sub.status === 'pending' && ctx.mode === 'confirmed') toActivate.push(sub.id);
    for (const tagId of row.tagIds) wantedTags.push({ subscriber_id: s.id, tag_id: tagId });
  }

  if (toSubscribe.length > 0) {
    const status = ctx.mode === 'confirmed' ? 'active' : 'pending';
    const created = await db
      .insertInto('subscriptions')
      .values(
        toSubscribe.map(({ subscriberId }) => ({
          subscriber_id: subscriberId,
          newsletter_id: ctx.newsletterId,
          status,
          source: 'import',
          consent_ip: null,
          confirm_sent_at: null,
          created_at: ctx.at,
          confirmed_at: status === 'active' ? ctx.at : null,
          unsubscribed_at: null,
          updated_at: ctx.at,
        })),
      )
      .onConflict((oc) => oc.columns(['subscriber_id', 'newsletter_id']).doNothing())
      .returning(['id', 'subscriber_id'])
      .execute();
    out.created = created.length;
    const emailOf = new Map(toSubscribe.map((t) => [t.subscriberId, t.row.email]));
    if (status === 'pending') {
      for (const c of created) out.pending.push({ subscriberId: c.subscriber_id, email: emailOf.get(c.subscriber_id)!, subscriptionId: c.id });
    }
    if (created.length > 0) {
      await db
        .insertInto('events')
        .values(
          created.map((c) => ({
            type: 'imported',
            subscriber_id: c.subscriber_id,
            newsletter_id: ctx.newsletterId,
            post_id: null,
            data: toJson({ import: ctx.publicId, status }),
            created_at: ctx.at,
          })),
        )
        .execute();
    }
    for (const c of created) createdFor.add(c.subscriber_id);
  }
  if (toActivate.length > 0) {
    const activated = await db
      .updateTable('subscriptions')
      .set({ status: 'active', confirmed_at: ctx.at, updated_at: ctx.at })
      .where('id', 'in', toActivate)
      .where('status', '=', 'pending')
      .returning('subscriber_id')
      .execute();
    for (const a of activated) changed.add(a.subscriber_id);
  }
  if (wantedTags.length > 0) {
    const added = await db
      .insertInto('subscriber_tags')
      .values(wantedTags)
      .onConflict((oc) => oc.columns(['subscriber_id', 'tag_id']).doNothing())
      .returning('subscriber_id')
      .execute();
    for (const a of added) changed.add(a.subscriber_id);
  }
  // A subscriber counts once: as created when this import subscribed them, else as updated.
  out.updated = [...changed].filter((id) => !createdFor.has(id)).length;
  return out;
}

/** What an existing subscriber is missing that this row has; undefined when nothing. */
function fillIn(current: { name: string; attributes: string }, row: ImportRowInput): { name?: string; attributes?: string } | undefined {
  const patch: { name?: string; attributes?: string } = {};
  if (!current.name && row.name) patch.name = row.name;
  const attributes = parseJsonObject(current.attributes);
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
