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

/** Makes `id` the default newsletter (clears the old default first: the column is unique). */
export async function makeDefault(db: DbOrTx, id: number): Promise<void> {
  await db.updateTable('newsletters').set({ default_lock: null }).where('default_lock', '=', 1).execute();
  await db.updateTable('newsletters').set({ default_lock: 1 }).where('id', '=', id).execute();
}
