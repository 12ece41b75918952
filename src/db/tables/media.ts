import type { Generated, Selectable } from 'kysely';

/** One distinct uploaded image (src/features/media). */
export interface MediaTable {
  id: Generated<number>;
  upload_hash: string;
  content_type: string;
  width: number;
  height: number;
  created_at: number;
}

/** A stored file of an image: the original (variant 0) or a resized width. */
export interface MediaFilesTable {
  key: string;
  media_id: number;
  variant: number;
  width: number;
  height: number;
  bytes: number;
  content_type: string;
}

export type MediaRow = Selectable<MediaTable>;
export type MediaFileRow = Selectable<MediaFilesTable>;
