import type { DbOrTx } from '../../db/database.js';
import type { NewPostRow, PostRow, PostStatus, PostUpdate } from '../../db/tables/posts.js';

/** A writer may change a post's content only before its send starts. */
export const EDITABLE_STATUSES: PostStatus[] = ['draft', 'scheduled'];
/** Posts readers can open on the web: once sending has started, recipients hold its "view in browser" link. */
export const PUBLISHED_STATUSES: PostStatus[] = ['sending', 'paused', 'sent'];

export interface PostListRow {
  id: number;
  newsletter_id: number;
  newsletter_name: string;
  time_zone: string;
  subject: string;
  slug: string;
  status: PostStatus;
  scheduled_at: number | null;
  held_reason: string | null;
  sent_at: number | null;
  updated_at: number;
}

export async function listPosts(db: DbOrTx, filter: { status?: PostStatus; newsletterId?: number; limit: number }): Promise<PostListRow[]> {
  let q = db
    .selectFrom('posts as p')
    .innerJoin('newsletters as n', 'n.id', 'p.newsletter_id')
    .select([
      'p.id', 'p.newsletter_id', 'n.name as newsletter_name', 'n.time_zone', 'p.subject', 'p.slug', 'p.status',
      'p.scheduled_at', 'p.held_reason', 'p.sent_at', 'p.updated_at',
    ]);
  if (filter.status) q = q.where('p.status', '=', filter.status);
  if (filter.newsletterId) q = q.where('p.newsletter_id', '=', filter.newsletterId);
  return q.orderBy('p.updated_at', 'desc').orderBy('p.id', 'desc').limit(filter.limit).execute();
}

export async function countPostsByStatus(db: DbOrTx, newsletterId?: number): Promise<Record<string, number>> {
  let q = db.selectFrom('posts').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status');
  if (newsletterId) q = q.where('newsletter_id', '=', newsletterId);
  const out: Record<string, number> = {};
  for (const row of await q.execute()) out[row.status] = Number(row.n);
  return out;
}

export async function findPostById(db: DbOrTx, id: number): Promise<PostRow | undefined> {
  return db.selectFrom('posts').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findPostBySlug(db: DbOrTx, newsletterId: number, slug: string): Promise<PostRow | undefined> {
  return db.selectFrom('posts').selectAll().where('newsletter_id', '=', newsletterId).where('slug', '=', slug).executeTakeFirst();
}

export async function insertPost(db: DbOrTx, row: NewPostRow): Promise<number> {
  const inserted = await db.insertInto('posts').values(row).returning('id').executeTakeFirstOrThrow();
  return inserted.id;
}

/**
 * Changes a post's content only while it is in one of `statuses`; the row count is the lock, so an edit
 * racing the scheduler's start (or a second tab) cannot rewrite a post that is already going out. Its
 * status is never changed here: that is src/sending/post-transitions.ts's job.
 */
export async function updatePostIn(db: DbOrTx, id: number, statuses: PostStatus[], changes: Omit<PostUpdate, 'status'>): Promise<boolean> {
  const result = await db.updateTable('posts').set(changes).where('id', '=', id).where('status', 'in', statuses).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function deleteDraft(db: DbOrTx, id: number): Promise<boolean> {
  const result = await db.deleteFrom('posts').where('id', '=', id).where('status', '=', 'draft').executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

/** Slugs in `newsletterId` equal to `base` or starting with `base-`, for picking a free one. */
export async function slugsLike(db: DbOrTx, newsletterId: number, base: string, exceptId?: number): Promise<string[]> {
  let q = db
    .selectFrom('posts')
    .select('slug')
    .where('newsletter_id', '=', newsletterId)
    .where((eb) => eb.or([eb('slug', '=', base), eb('slug', 'like', `${base}-%`)]));
  if (exceptId !== undefined) q = q.where('id', '!=', exceptId);
  return (await q.execute()).map((r) => r.slug);
}

export async function slugTaken(db: DbOrTx, newsletterId: number, slug: string, exceptId?: number): Promise<boolean> {
  let q = db.selectFrom('posts').select('id').where('newsletter_id', '=', newsletterId).where('slug', '=', slug);
  if (exceptId !== undefined) q = q.where('id', '!=', exceptId);
  return (await q.executeTakeFirst()) !== undefined;
}

export interface ArchiveEntry {
  slug: string;
  subject: string;
  preheader: string;
  sent_at: number;
}

/** Sent posts of a newsletter, newest first (ties by id): the one ordering the home page, archive and feed share. */
function sentPosts(db: DbOrTx, newsletterId: number, limit: number) {
  return db
    .selectFrom('posts')
    .where('newsletter_id', '=', newsletterId)
    .where('status', '=', 'sent')
    .where('sent_at', 'is not', null)
    .orderBy('sent_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit);
}

/** What the public home and archive list. */
export async function listArchive(db: DbOrTx, newsletterId: number, limit: number): Promise<ArchiveEntry[]> {
  const rows = await sentPosts(db, newsletterId, limit).select(['slug', 'subject', 'preheader', 'sent_at']).execute();
  return rows.map((r) => ({ ...r, sent_at: Number(r.sent_at) }));
}

/** Whole rows of the latest sent posts, for the feed (which carries full content). */
export async function listSentPosts(db: DbOrTx, newsletterId: number, limit: number): Promise<PostRow[]> {
  return sentPosts(db, newsletterId, limit).selectAll().execute();
}

export async function listTags(db: DbOrTx): Promise<Array<{ id: number; name: string }>> {
  return db.selectFrom('tags').select(['id', 'name']).orderBy('name').execute();
}
