import type { DbOrTx } from '../../db/database.js';
import type { NewNewsletterRow, NewsletterRow, NewsletterUpdate } from '../../db/tables/newsletters.js';

export async function listNewsletters(db: DbOrTx): Promise<NewsletterRow[]> {
  return db.selectFrom('newsletters').selectAll().orderBy('default_lock', 'desc').orderBy('name').orderBy('id').execute();
}

export async function findNewsletterById(db: DbOrTx, id: number): Promise<NewsletterRow | undefined> {
  return db.selectFrom('newsletters').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findNewsletterBySlug(db: DbOrTx, slug: string): Promise<NewsletterRow | undefined> {
  return db.selectFrom('newsletters').selectAll().where('slug', '=', slug).executeTakeFirst();
}

/** The newsletter "/" shows: the one marked default, else the oldest. */
export async function findDefaultNewsletter(db: DbOrTx): Promise<NewsletterRow | undefined> {
  return (
    (await db.selectFrom('newsletters').selectAll().where('default_lock', '=', 1).executeTakeFirst()) ??
    (await db.selectFrom('newsletters').selectAll().orderBy('id').limit(1).executeTakeFirst())
  );
}

export async function insertNewsletter(db: DbOrTx, row: NewNewsletterRow): Promise<number> {
  const inserted = await db.insertInto('newsletters').values(row).returning('id').executeTakeFirstOrThrow();
  return inserted.id;
}

export async function updateNewsletter(db: DbOrTx, id: number, changes: NewsletterUpdate): Promise<void> {
  await db.updateTable('newsletters').set(changes).where('id', '=', id).execute();
}

export async function slugTaken(db: DbOrTx, slug: string, exceptId?: number): Promise<boolean> {
  let q = db.selectFrom('newsletters').select('id').where('slug', '=', slug);
  if (exceptId !== undefined) q = q.where('id', '!=', exceptId);
  return (await q.executeTakeFirst()) !== undefined;
}

/** The newsletter a renamed newsletter's old slug still leads to. */
export async function findNewsletterByOldSlug(db: DbOrTx, slug: string): Promise<NewsletterRow | undefined> {
  return db
    .selectFrom('newsletter_slug_aliases as a')
    .innerJoin('newsletters as n', 'n.id', 'a.newsletter_id')
    .selectAll('n')
    .where('a.slug', '=', slug)
    .executeTakeFirst();
}

/** The old slugs that lead to a newsletter, newest first. */
export async function listOldSlugs(db: DbOrTx, newsletterId: number): Promise<string[]> {
  const rows = await db
    .selectFrom('newsletter_slug_aliases')
    .select('slug')
    .where('newsletter_id', '=', newsletterId)
    .orderBy('created_at', 'desc')
    .orderBy('slug')
    .execute();
  return rows.map((r) => r.slug);
}

export async function addOldSlug(db: DbOrTx, slug: string, newsletterId: number, at: number): Promise<void> {
  await db.insertInto('newsletter_slug_aliases').values({ slug, newsletter_id: newsletterId, created_at: at }).execute();
}

/** Drops `slug` as an old slug of `newsletterId`; true when it was one. */
export async function deleteOldSlug(db: DbOrTx, slug: string, newsletterId: number): Promise<boolean> {
  const result = await db.deleteFrom('newsletter_slug_aliases').where('slug', '=', slug).where('newsletter_id', '=', newsletterId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Makes `id` the default newsletter (clears the old default first: the column is unique). */
export async function makeDefault(db: DbOrTx, id: number): Promise<void> {
  await db.updateTable('newsletters').set({ default_lock: null }).where('default_lock', '=', 1).execute();
  await db.updateTable('newsletters').set({ default_lock: 1 }).where('id', '=', id).execute();
}
