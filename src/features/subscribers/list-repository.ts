import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { SubscriptionStatus } from '../../db/tables/subscribers.js';
import { filteredSubscribers, type Sort, type SubscriberFilter } from './filters.js';

/** Where a keyset page starts: after the last row of the page before, or before the first of the next. */
export type SortKey = { created_at: number; id: number } | { email: string };
export interface PageRequest {
  direction: 'after' | 'before';
  key: SortKey;
}

export interface ListRow {
  id: number;
  email: string;
  name: string;
  created_at: number;
}

export interface ListPage {
  rows: ListRow[];
  /** Sort key of the last row when a later page exists. */
  next: SortKey | null;
  /** Sort key of the first row when an earlier page exists. */
  prev: SortKey | null;
}

export function sortKeyOf(sort: Sort, row: ListRow): SortKey {
  return sort === 'email' ? { email: row.email } : { created_at: row.created_at, id: row.id };
}

/**
 * One keyset page (no OFFSET: a deep page costs what the first does). Paging backwards reads in the
 * opposite order and flips the rows, so "previous" is as cheap as "next".
 */
export async function listSubscribersPage(db: DbOrTx, f: SubscriberFilter, page: PageRequest | null, limit: number): Promise<ListPage> {
  const backwards = page?.direction === 'before';
  const rows = await keysetQuery(db, f, page, limit + 1, backwards).execute();
  const more = rows.length > limit;
  const slice = rows.slice(0, limit);
  if (backwards) slice.reverse();
  const first = slice[0];
  const last = slice[slice.length - 1];
  const hasNext = backwards ? true : more;
  const hasPrev = backwards ? more : page !== null;
  return {
    rows: slice,
    next: hasNext && last ? sortKeyOf(f.sort, last) : null,
    prev: hasPrev && first ? sortKeyOf(f.sort, first) : null,
  };
}

/** The filtered rows in sort order from a keyset position; the export walks the same query. */
export function keysetQuery(db: DbOrTx, f: SubscriberFilter, page: PageRequest | null, limit: number, backwards = false) {
  // Ascending in the sort's own direction, unless we read backwards from a "before" key.
  const descending = (f.sort === 'newest') !== backwards;
  const dir = descending ? 'desc' : 'asc';
  const op = descending ? '<' : '>';
  let q = filteredSubscribers(db, f).select(['s.id', 's.email', 's.name', 's.created_at']);
  if (page) {
    const key = page.key;
    if (f.sort === 'email') {
      if (!('email' in key)) throw new TypeError('sort key does not match the sort');
      q = q.where('s.email', op, key.email);
    } else {
      if (!('id' in key)) throw new TypeError('sort key does not match the sort');
      q = q.where((eb) => eb(eb.refTuple('s.created_at', 's.id'), op, eb.tuple(key.created_at, key.id)));
    }
  }
  q = f.sort === 'email' ? q.orderBy('s.email', dir) : q.orderBy('s.created_at', dir).orderBy('s.id', dir);
  return q.limit(limit);
}

export interface StatusCounts {
  all: number;
  active: number;
  pending: number;
  unsubscribed: number;
}

/**
 * Counts for the status tabs under the rest of the filter. A subscriber counts once per status even
 * when several of their newsletters share it; with one newsletter (the usual case), or one chosen, a
 * subscriber has at most one subscription, so plain counts are exact and one scan gives every figure.
 * Without search or tag, the subscriptions indexes answer alone.
 */
export async function countByStatus(db: DbOrTx, f: SubscriberFilter): Promise<StatusCounts> {
  const counts: StatusCounts = { all: 0, active: 0, pending: 0, unsubscribed: 0 };
  const n = f.newsletterId;
  const several = n === null && Number((await db.selectFrom('newsletters').select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow()).n) > 1;
  const tally = several ? sql<number>`count(distinct ${sql.ref('s.id')})` : sql<number>`count(*)`;
  let grouped: { status: string | null; n: number | string }[];
  if (!f.q && f.tagId === null) {
    let q = db.selectFrom('subscriptions');
    if (n !== null) q = q.where('newsletter_id', '=', n);
    grouped = await q
      .select(['status', several ? sql<number>`count(distinct ${sql.ref('subscriber_id')})`.as('n') : sql<number>`count(*)`.as('n')])
      .groupBy('status')
      .execute();
    if (n === null) counts.all = Number((await db.selectFrom('subscribers').select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow()).n);
  } else {
    const base = { ...f, status: null, newsletterId: null };
    if (several) counts.all = Number((await filteredSubscribers(db, base).select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow()).n);
    // A left join keeps subscribers without a subscription (status NULL): they count in "all" only.
    grouped = await filteredSubscribers(db, base)
      .leftJoin('subscriptions as c', (join) => {
        const on = join.onRef('c.subscriber_id', '=', 's.id');
        return n !== null ? on.on('c.newsletter_id', '=', n) : on;
      })
      .select(['c.status as status', tally.as('n')])
      .groupBy('c.status')
      .execute();
    if (!several) counts.all = grouped.reduce((sum, row) => sum + (n !== null && row.status === null ? 0 : Number(row.n)), 0);
  }
  for (const row of grouped) {
    if (row.status !== null && row.status in counts) counts[row.status as SubscriptionStatus] = Number(row.n);
  }
  if (n !== null) counts.all = counts.active + counts.pending + counts.unsubscribed;
  return counts;
}

export interface RowSubscription {
  subscriber_id: number;
  newsletter_id: number;
  newsletter_name: string;
  status: SubscriptionStatus;
}

/** Subscriptions and tags for the rows on one page, in two queries whatever the page size. */
export async function pageExtras(db: DbOrTx, ids: number[]) {
  const subscriptions = new Map<number, RowSubscription[]>();
  const tags = new Map<number, { id: number; name: string }[]>();
  if (ids.length === 0) return { subscriptions, tags };
  const subs = await db
    .selectFrom('subscriptions as sn')
    .innerJoin('newsletters as n', 'n.id', 'sn.newsletter_id')
    .select(['sn.subscriber_id', 'sn.newsletter_id', 'n.name as newsletter_name', 'sn.status'])
    .where('sn.subscriber_id', 'in', ids)
    .orderBy('n.name')
    .execute();
  for (const s of subs) subscriptions.set(s.subscriber_id, [...(subscriptions.get(s.subscriber_id) ?? []), s]);
  const tagRows = await db
    .selectFrom('subscriber_tags as st')
    .innerJoin('tags as t', 't.id', 'st.tag_id')
    .select(['st.subscriber_id', 't.id', 't.name'])
    .where('st.subscriber_id', 'in', ids)
    .orderBy('t.name')
    .execute();
  for (const t of tagRows) tags.set(t.subscriber_id, [...(tags.get(t.subscriber_id) ?? []), { id: t.id, name: t.name }]);
  return { subscriptions, tags };
}
