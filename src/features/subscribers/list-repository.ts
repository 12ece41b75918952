import { sql, type SqlBool } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { SubscriptionStatus } from '../../db/tables/subscribers.js';
import { unicodeLower } from '../../db/text-functions.js';
import type { Sort, SubscriberFilter } from './filters.js';

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

/**
 * `%`, `_` and the escape character itself match literally in a search. Lower-cased here as the name is
 * in SQL (unicodeLower), so "ÉLODIE" finds "Élodie" on both dialects; addresses are stored lower-cased.
 */
function likePattern(q: string): string {
  return `%${q.toLowerCase().replace(/[!%_]/g, (c) => `!${c}`)}%`;
}

/**
 * Subscribers matching the filter (alias `s`). Newsletter, status and tag are EXISTS probes on the
 * unique (subscriber, newsletter) and (subscriber, tag) keys, so a page walks the sort index and stops
 * after one page instead of sorting every match. The search is a substring match, which no index serves:
 * it reads each row it passes (on SQLite through a JavaScript function, about twice SQLite's own lower()
 * per row). `withStatus: false` leaves the status out (for counts).
 */
export function filteredSubscribers(db: DbOrTx, f: SubscriberFilter, options: { withStatus?: boolean } = {}) {
  const status = options.withStatus === false ? null : f.status;
  let q = db.selectFrom('subscribers as s');
  if (f.q) {
    const pattern = likePattern(f.q);
    q = q.where((eb) =>
      eb.or([sql<SqlBool>`${eb.ref('s.email')} like ${pattern} escape '!'`, sql<SqlBool>`${unicodeLower(db, eb.ref('s.name'))} like ${pattern} escape '!'`]),
    );
  }
  if (f.newsletterId !== null || status !== null) {
    const newsletterId = f.newsletterId;
    q = q.where(({ exists, selectFrom }) => {
      let sub = selectFrom('subscriptions as sn').select(sql.lit(1).as('one')).whereRef('sn.subscriber_id', '=', 's.id');
      if (newsletterId !== null) sub = sub.where('sn.newsletter_id', '=', newsletterId);
      if (status !== null) sub = sub.where('sn.status', '=', status);
      return exists(sub);
    });
  }
  if (f.tagId !== null) {
    const tagId = f.tagId;
    q = q.where(({ exists, selectFrom }) =>
      exists(selectFrom('subscriber_tags as st').select(sql.lit(1).as('one')).whereRef('st.subscriber_id', '=', 's.id').where('st.tag_id', '=', tagId)),
    );
  }
  return q;
}

/** One page of the export: the list's keyset page with the columns only the CSV shows. */
export async function exportPage(db: DbOrTx, f: SubscriberFilter, page: PageRequest | null, limit: number) {
  return keysetQuery(db, f, page, limit)
    .select(['s.attributes', 's.source'])
    .execute();
}

/** Subscriptions (`newsletter: status`) and tag names of the export's rows, by name, in two queries. */
export async function exportExtras(db: DbOrTx, ids: number[]) {
  const subscriptions = await db
    .selectFrom('subscriptions as sn')
    .innerJoin('newsletters as n', 'n.id', 'sn.newsletter_id')
    .select(['sn.subscriber_id', 'n.name', 'sn.status'])
    .where('sn.subscriber_id', 'in', ids)
    .orderBy('n.name')
    .execute();
  const tags = await db
    .selectFrom('subscriber_tags as st')
    .innerJoin('tags as t', 't.id', 'st.tag_id')
    .select(['st.subscriber_id', 't.name'])
    .where('st.subscriber_id', 'in', ids)
    .orderBy('t.name')
    .execute();
  return { subscriptions, tags };
}
