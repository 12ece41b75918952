import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { FeedbackOutcome, FeedbackReportRow, FeedbackReportsTable } from '../../db/tables/feedback.js';
import type { SuppressionReason } from '../../db/tables/subscribers.js';
import type { Insertable } from 'kysely';

/** The delivery a report is about, with what the policy and the writer's views need from it. */
export interface DeliveryMatch {
  deliveryId: number;
  postId: number;
  newsletterId: number;
  subscriberId: number | null;
  email: string;
}

function deliveryMatches(db: DbOrTx) {
  return db
    .selectFrom('deliveries as d')
    .innerJoin('posts as p', 'p.id', 'd.post_id')
    .select(['d.id as deliveryId', 'd.post_id as postId', 'p.newsletter_id as newsletterId', 'd.subscriber_id as subscriberId', 'd.email']);
}

/** By our Message-ID as stored (with its angle brackets). */
export async function deliveryByMessageId(db: DbOrTx, messageId: string): Promise<DeliveryMatch | undefined> {
  return deliveryMatches(db).where('d.message_id', '=', `<${messageId}>`).executeTakeFirst();
}

/** By the relay's id, read from its SMTP answer when the message was sent. */
export async function deliveryByRelayId(db: DbOrTx, relayId: string): Promise<DeliveryMatch | undefined> {
  return deliveryMatches(db).where('d.relay_id', '=', relayId).orderBy('d.id', 'desc').executeTakeFirst();
}

export async function deliveryById(db: DbOrTx, id: number): Promise<DeliveryMatch | undefined> {
  return deliveryMatches(db).where('d.id', '=', id).executeTakeFirst();
}

/** By the normalised address (subscribers.email is unique). */
export async function subscriberIdByEmail(db: DbOrTx, email: string): Promise<number | undefined> {
  const row = await db.selectFrom('subscribers').select('id').where('email', '=', email).executeTakeFirst();
  return row?.id;
}

/** Stores a report unless (source, report_id) is already stored; the new row's id, or undefined for a repeat. */
export async function insertReport(db: DbOrTx, row: Insertable<FeedbackReportsTable>): Promise<number | undefined> {
  const inserted = await db
    .insertInto('feedback_reports')
    .values(row)
    .onConflict((oc) => oc.columns(['source', 'report_id']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted?.id;
}

export async function setOutcome(db: DbOrTx, id: number, outcome: FeedbackOutcome): Promise<void> {
  await db.updateTable('feedback_reports').set({ outcome }).where('id', '=', id).execute();
}

/** The soft bounces of an address since `since`, each with when its message was sent (when known). */
export async function softBouncesSince(db: DbOrTx, hash: string, since: number): Promise<Array<{ id: number; deliveryId: number | null; sentAt: number | null; occurredAt: number }>> {
  const rows = await db
    .selectFrom('feedback_reports as f')
    .leftJoin('deliveries as d', 'd.id', 'f.delivery_id')
    .select(['f.id', 'f.delivery_id as deliveryId', 'd.sent_at as sentAt', 'f.occurred_at as occurredAt'])
    .where('f.email_hash', '=', hash)
    .where('f.kind', '=', 'soft_bounce')
    .where('f.occurred_at', '>=', since)
    .orderBy('f.occurred_at', 'desc')
    .limit(200)
    .execute();
  return rows.map((r) => ({ id: r.id, deliveryId: r.deliveryId, sentAt: r.sentAt === null ? null : Number(r.sentAt), occurredAt: Number(r.occurredAt) }));
}

/**
 * When the address last received a message that nothing bounced: the latest sent delivery to it, sent
 * before `before`, with no bounce or complaint reported against it. Only posts started since `since` are
 * looked at, which keeps this to a few index lookups (deliveries are unique per post and address).
 */
export async function lastCleanDelivery(db: DbOrTx, email: string, since: number, before: number): Promise<number | null> {
  const row = await db
    .selectFrom('deliveries as d')
    .innerJoin('posts as p', 'p.id', 'd.post_id')
    .select((eb) => eb.fn.max('d.sent_at').as('at'))
    .where('p.started_at', '>=', since)
    .where('d.email', '=', email)
    .where('d.status', '=', 'sent')
    .where('d.sent_at', '<', before)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('feedback_reports as f').select(sql.lit(1).as('one')).whereRef('f.delivery_id', '=', 'd.id').where('f.kind', '!=', 'unsubscribe'))),
    )
    .executeTakeFirst();
  return row?.at === null || row?.at === undefined ? null : Number(row.at);
}

export async function setSuppressionSource(db: DbOrTx, hash: string, source: string): Promise<void> {
  await db.updateTable('suppressions').set({ source }).where('email_hash', '=', hash).execute();
}

// ---- the writer's views ----

export interface ReportFilter {
  matched?: boolean | undefined;
  postId?: number | undefined;
  kind?: FeedbackReportRow['kind'] | undefined;
  source?: string | undefined;
  /** Rows with a smaller id than this (the next page). */
  beforeId?: number | undefined;
}

export type ReportListRow = Omit<FeedbackReportRow, 'raw'> & { post_subject: string | null };

export async function listReports(db: DbOrTx, f: ReportFilter, limit: number): Promise<ReportListRow[]> {
  let q = db
    .selectFrom('feedback_reports as f')
    .leftJoin('posts as p', 'p.id', 'f.post_id')
    .select([
      'f.id', 'f.source', 'f.report_id', 'f.kind', 'f.address', 'f.email_hash', 'f.delivery_id', 'f.post_id', 'f.subscriber_id',
      'f.diagnostic_code', 'f.diagnostic_text', 'f.outcome', 'f.occurred_at', 'f.received_at', 'p.subject as post_subject',
    ]);
  if (f.matched === true) q = q.where('f.delivery_id', 'is not', null);
  if (f.matched === false) q = q.where('f.delivery_id', 'is', null);
  if (f.postId !== undefined) q = q.where('f.post_id', '=', f.postId);
  if (f.kind !== undefined) q = q.where('f.kind', '=', f.kind);
  if (f.source !== undefined) q = q.where('f.source', '=', f.source);
  if (f.beforeId !== undefined) q = q.where('f.id', '<', f.beforeId);
  return q.orderBy('f.id', 'desc').limit(limit).execute();
}

export async function findReport(db: DbOrTx, id: number): Promise<(FeedbackReportRow & { post_subject: string | null }) | undefined> {
  return db
    .selectFrom('feedback_reports as f')
    .leftJoin('posts as p', 'p.id', 'f.post_id')
    .selectAll('f')
    .select('p.subject as post_subject')
    .where('f.id', '=', id)
    .executeTakeFirst();
}

export async function countUnmatched(db: DbOrTx): Promise<number> {
  const row = await db.selectFrom('feedback_reports').select((eb) => eb.fn.countAll<number>().as('n')).where('delivery_id', 'is', null).executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** Per kind, how many reports a post has. */
export async function postKindCounts(db: DbOrTx, postId: number): Promise<Array<{ kind: FeedbackReportRow['kind']; n: number }>> {
  const rows = await db
    .selectFrom('feedback_reports')
    .select(['kind', (eb) => eb.fn.countAll<number>().as('n')])
    .where('post_id', '=', postId)
    .groupBy('kind')
    .execute();
  return rows.map((r) => ({ kind: r.kind, n: Number(r.n) }));
}

/** The most frequent reasons given for a post's reports. */
export async function postReasons(db: DbOrTx, postId: number, limit: number) {
  const rows = await db
    .selectFrom('feedback_reports')
    .select(['kind', 'diagnostic_code', 'diagnostic_text', (eb) => eb.fn.countAll<number>().as('n')])
    .where('post_id', '=', postId)
    .groupBy(['kind', 'diagnostic_code', 'diagnostic_text'])
    .orderBy('n', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ...r, n: Number(r.n) }));
}

export async function sentCount(db: DbOrTx, postId: number): Promise<number> {
  const row = await db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('post_id', '=', postId)
    .where('status', '=', 'sent')
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** Recipients the relay refused while sending (5xx, or retries given up), by the relay's answer. */
export async function refusedWhileSending(db: DbOrTx, postId: number, limit: number): Promise<Array<{ error: string; n: number }>> {
  const rows = await db
    .selectFrom('deliveries')
    .select(['error', (eb) => eb.fn.countAll<number>().as('n')])
    .where('post_id', '=', postId)
    .where('status', '=', 'failed')
    .groupBy('error')
    .orderBy('n', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ error: r.error ?? '', n: Number(r.n) }));
}

export async function findPostSubject(db: DbOrTx, postId: number): Promise<{ id: number; subject: string; status: string } | undefined> {
  return db.selectFrom('posts').select(['id', 'subject', 'status']).where('id', '=', postId).executeTakeFirst();
}

/**
 * Posts started since `since` with their sent count and hard-bounce and complaint counts, for the
 * dashboard's warning: only posts with at least one of either are returned.
 */
export async function recentPostRates(db: DbOrTx, since: number) {
  const rows = await db
    .selectFrom('posts as p')
    .innerJoin('feedback_reports as f', 'f.post_id', 'p.id')
    .select([
      'p.id',
      'p.subject',
      (eb) => eb.fn.sum<number>(eb.case().when('f.kind', '=', 'hard_bounce').then(1).else(0).end()).as('hard'),
      (eb) => eb.fn.sum<number>(eb.case().when('f.kind', '=', 'complaint').then(1).else(0).end()).as('complaints'),
      (eb) =>
        eb
          .selectFrom('deliveries as d')
          .select((e2) => e2.fn.countAll<number>().as('n'))
          .whereRef('d.post_id', '=', 'p.id')
          .where('d.status', '=', 'sent')
          .as('sent'),
    ])
    .where('p.started_at', '>=', since)
    .where('f.kind', 'in', ['hard_bounce', 'complaint'])
    .groupBy(['p.id', 'p.subject'])
    .orderBy('p.id', 'desc')
    .limit(50)
    .execute();
  return rows.map((r) => ({ id: r.id, subject: r.subject, hard: Number(r.hard ?? 0), complaints: Number(r.complaints ?? 0), sent: Number(r.sent ?? 0) }));
}

/** Empties raw payloads received before `before`; the report itself stays. */
export async function pruneRaw(db: DbOrTx, before: number): Promise<number> {
  const result = await db.updateTable('feedback_reports').set({ raw: null }).where('received_at', '<', before).where('raw', 'is not', null).executeTakeFirst();
  return Number(result.numUpdatedRows ?? 0);
}

// ---- suppressions ----

export interface SuppressionFilter {
  q: string;
  reason: SuppressionReason | '';
  source: string;
}

export interface SuppressionListRow {
  email_hash: string;
  reason: SuppressionReason;
  source: string;
  detail: string;
  created_at: number;
  email: string | null;
  subscriber_id: number | null;
}

function suppressionQuery(db: DbOrTx, f: SuppressionFilter, hashOfQuery: string | null) {
  let q = db
    .selectFrom('suppressions as x')
    .leftJoin('subscribers as s', 's.email_hash', 'x.email_hash')
    .select(['x.email_hash', 'x.reason', 'x.source', 'x.detail', 'x.created_at', 's.email', 's.id as subscriber_id']);
  if (f.reason) q = q.where('x.reason', '=', f.reason);
  if (f.source) q = q.where('x.source', '=', f.source);
  if (f.q) {
    const pattern = `%${f.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q = q.where((eb) =>
      eb.or([eb('s.email', 'like', sql<string>`${pattern} escape '\\'`), ...(hashOfQuery ? [eb('x.email_hash', '=', hashOfQuery)] : [])]),
    );
  }
  return q;
}

/** One page of suppressions, newest first (exported for the test that reads its plan). */
export function suppressionPageQuery(db: DbOrTx, f: SuppressionFilter, hashOfQuery: string | null, before: { createdAt: number; hash: string } | null, limit: number) {
  let q = suppressionQuery(db, f, hashOfQuery);
  if (before) {
    q = q.where((eb) =>
      eb.or([eb('x.created_at', '<', before.createdAt), eb.and([eb('x.created_at', '=', before.createdAt), eb('x.email_hash', '<', before.hash)])]),
    );
  }
  return q.orderBy('x.created_at', 'desc').orderBy('x.email_hash', 'desc').limit(limit);
}

/** Newest first; `before` is the (created_at, email_hash) of the last row of the page before. */
export async function listSuppressions(
  db: DbOrTx,
  f: SuppressionFilter,
  hashOfQuery: string | null,
  before: { createdAt: number; hash: string } | null,
  limit: number,
): Promise<SuppressionListRow[]> {
  const rows = await suppressionPageQuery(db, f, hashOfQuery, before, limit).execute();
  return rows.map((r) => ({ ...r, created_at: Number(r.created_at) }));
}

/** Every matching suppression, in pages, for the CSV export. */
export async function* allSuppressions(db: DbOrTx, f: SuppressionFilter, hashOfQuery: string | null): AsyncGenerator<SuppressionListRow> {
  let before: { createdAt: number; hash: string } | null = null;
  for (;;) {
    const rows = await listSuppressions(db, f, hashOfQuery, before, 1000);
    yield* rows;
    if (rows.length < 1000) return;
    const last = rows[rows.length - 1]!;
    before = { createdAt: last.created_at, hash: last.email_hash };
  }
}

export async function findSuppression(db: DbOrTx, hash: string): Promise<SuppressionListRow | undefined> {
  const row = await db
    .selectFrom('suppressions as x')
    .leftJoin('subscribers as s', 's.email_hash', 'x.email_hash')
    .select(['x.email_hash', 'x.reason', 'x.source', 'x.detail', 'x.created_at', 's.email', 's.id as subscriber_id'])
    .where('x.email_hash', '=', hash)
    .executeTakeFirst();
  return row ? { ...row, created_at: Number(row.created_at) } : undefined;
}

export async function deleteSuppression(db: DbOrTx, hash: string): Promise<boolean> {
  const result = await db.deleteFrom('suppressions').where('email_hash', '=', hash).executeTakeFirst();
  return Number(result.numDeletedRows ?? 0) > 0;
}

export async function suppressionSources(db: DbOrTx): Promise<string[]> {
  const rows = await db.selectFrom('suppressions').select('source').distinct().orderBy('source').execute();
  return rows.map((r) => r.source);
}

// ---- policy settings (the settings table's key/value rows) ----

export async function readSetting(db: DbOrTx, key: string): Promise<string | undefined> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  return row?.value;
}

export async function writeSetting(db: DbOrTx, key: string, value: string, now: number): Promise<void> {
  await db
    .insertInto('settings')
    .values({ key, value, updated_at: now })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now }))
    .execute();
}
