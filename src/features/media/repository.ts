import type { DbOrTx } from '../../db/database.js';
import type { MediaFileRow, MediaRow } from '../../db/tables/media.js';

export async function findMediaByUploadHash(db: DbOrTx, uploadHash: string): Promise<MediaRow | undefined> {
  return db.selectFrom('media').selectAll().where('upload_hash', '=', uploadHash).executeTakeFirst();
}

export async function insertMedia(db: DbOrTx, m: { uploadHash: string; contentType: string; width: number; height: number; at: number }): Promise<number> {
  const row = await db
    .insertInto('media')
    .values({ upload_hash: m.uploadHash, content_type: m.contentType, width: m.width, height: m.height, created_at: m.at })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function insertMediaFiles(db: DbOrTx, files: MediaFileRow[]): Promise<void> {
  if (files.length > 0) await db.insertInto('media_files').values(files).execute();
}

export async function listMediaFiles(db: DbOrTx, mediaId: number): Promise<MediaFileRow[]> {
  return db.selectFrom('media_files').selectAll().where('media_id', '=', mediaId).orderBy('variant').execute();
}

export async function findMediaFile(db: DbOrTx, key: string): Promise<MediaFileRow | undefined> {
  return db.selectFrom('media_files').selectAll().where('key', '=', key).executeTakeFirst();
}

export async function mediaFileSizes(db: DbOrTx, keys: string[]): Promise<Array<{ key: string; bytes: number }>> {
  if (keys.length === 0) return [];
  return db.selectFrom('media_files').select(['key', 'bytes']).where('key', 'in', keys).execute();
}
