import type { DbOrTx } from '../../db/database.js';
import type { PostRow } from '../../db/tables/posts.js';
import type { DesignInput } from './schemas.js';

export async function saveDesign(db: DbOrTx, newsletterId: number, design: DesignInput, at: number): Promise<void> {
  await db.updateTable('newsletters').set({ ...design, updated_at: at }).where('id', '=', newsletterId).execute();
}

export async function saveLogo(db: DbOrTx, newsletterId: number, logo: { file: string; width: number; height: number } | null, at: number): Promise<void> {
  await db
    .updateTable('newsletters')
    .set({ logo_file: logo?.file ?? null, logo_width: logo?.width ?? null, logo_height: logo?.height ?? null, updated_at: at })
    .where('id', '=', newsletterId)
    .execute();
}

/** The post a theme is previewed on: the last one sent, else the last one written. */
export async function findPreviewPost(db: DbOrTx, newsletterId: number): Promise<PostRow | undefined> {
  const sent = await db
    .selectFrom('posts')
    .selectAll()
    .where('newsletter_id', '=', newsletterId)
    .where('sent_at', 'is not', null)
    .orderBy('sent_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return sent ?? db.selectFrom('posts').selectAll().where('newsletter_id', '=', newsletterId).orderBy('updated_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
}
