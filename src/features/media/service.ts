import type { Db } from '../../db/database.js';
import { isUniqueViolation } from '../../db/errors.js';
import type { MediaFileRow } from '../../db/tables/media.js';
import type { Clock } from '../../lib/clock.js';
import * as repo from './repository.js';
import { CONTENT_TYPES } from './sniff.js';
import { ImageRefused, processImage, sha256 } from './images.js';
import type { MediaStorage } from './storage.js';

export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
/** A served file's name: a SHA-256 and the extension of a type Gazette stores. */
export const MEDIA_KEY = /^[0-9a-f]{64}\.(png|jpg|gif|webp)$/;

export interface MediaServiceDeps {
  db: Db;
  clock: Clock;
  storage: MediaStorage;
  baseUrl: string;
  maxBytes?: number;
}

export interface UploadedImage {
  mediaId: number;
  width: number;
  height: number;
  /** The copy to put in an email: 600 px wide at most. */
  emailUrl: string;
  files: Array<MediaFileRow & { url: string }>;
}

/** What the images of an email weigh, as far as Gazette knows: its own uploads have a size, others do not. */
export interface ImageWeight {
  bytes: number;
  counted: number;
  /** Images hosted elsewhere, whose size is not known here. */
  elsewhere: number;
}

export type MediaService = ReturnType<typeof createMediaService>;

/** Markdown for an image; the alt text is kept on one line and its brackets escaped. */
export function imageMarkdown(alt: string, url: string): string {
  const text = alt.replace(/\s+/g, ' ').trim().replace(/([\\[\]])/g, '\\$1');
  return `![${text}](${url})`;
}

export function createMediaService(deps: MediaServiceDeps) {
  const { db, storage } = deps;
  const maxBytes = deps.maxBytes ?? MAX_IMAGE_BYTES;
  const prefix = `${deps.baseUrl.replace(/\/+$/, '')}/media/`;
  const urlOf = (key: string) => `${prefix}${key}`;

  async function describe(mediaId: number): Promise<UploadedImage> {
    const files = (await repo.listMediaFiles(db, mediaId)).map((f) => ({ ...f, url: urlOf(f.key) }));
    const original = files.find((f) => f.variant === 0)!;
    const email = files.find((f) => f.variant === 600) ?? original;
    return { mediaId, width: original.width, height: original.height, emailUrl: email.url, files };
  }

  /** Stores the files, then the rows; if the rows cannot be written, files no row names are removed again. */
  async function store(image: Awaited<ReturnType<typeof processImage>>): Promise<number> {
    for (const f of image.files) await storage.put(f.key, f.bytes, f.contentType);
    try {
      return await db.transaction().execute(async (trx) => {
        const id = await repo.insertMedia(trx, { uploadHash: image.uploadHash, contentType: CONTENT_TYPES[image.type], width: image.width, height: image.height, at: deps.clock.now() });
        await repo.insertMediaFiles(trx, image.files.map((f) => ({ key: f.key, media_id: id, variant: f.variant, width: f.width, height: f.height, bytes: f.bytes.length, content_type: f.contentType })));
        return id;
      });
    } catch (err) {
      // The same upload stored at the same moment by another request: that one is the answer.
      const existing = isUniqueViolation(err) ? await repo.findMediaByUploadHash(db, image.uploadHash) : undefined;
      if (existing) return existing.id;
      for (const f of image.files) if (!(await repo.findMediaFile(db, f.key))) await storage.remove(f.key).catch(() => undefined);
      throw err;
    }
  }

  return {
    maxBytes,

    /** Checks, processes and stores an upload; throws ImageRefused (nothing stored) for what is not a usable image. */
    async upload(bytes: Buffer): Promise<UploadedImage> {
      if (bytes.length > maxBytes) throw new ImageRefused('size', `The image is larger than ${Math.floor(maxBytes / 1024 / 1024)} MB. Save it smaller and upload it again.`);
      if (bytes.length === 0) throw new ImageRefused('type', 'Choose an image to upload; this file is empty.');
      const known = await repo.findMediaByUploadHash(db, sha256(bytes));
      if (known) return describe(known.id);
      return describe(await store(await processImage(bytes)));
    },

    /** A stored file to serve, by its content-addressed key. */
    async file(key: string): Promise<{ bytes: Buffer; contentType: string } | undefined> {
      if (!MEDIA_KEY.test(key)) return undefined;
      const row = await repo.findMediaFile(db, key);
      const bytes = row ? await storage.get(key) : undefined;
      return row && bytes ? { bytes, contentType: row.content_type } : undefined;
    },

    /** The weight of the images an email shows (each counted once, as a mail client fetches it once). */
    async weigh(srcs: string[]): Promise<ImageWeight> {
      const distinct = [...new Set(srcs)];
      const ours = distinct.filter((s) => s.startsWith(prefix) && MEDIA_KEY.test(s.slice(prefix.length))).map((s) => s.slice(prefix.length));
      const sizes = await repo.mediaFileSizes(db, ours);
      const bySize = new Map(sizes.map((s) => [s.key, s.bytes]));
      const bytes = [...bySize.values()].reduce((a, b) => a + b, 0);
      return { bytes, counted: bySize.size, elsewhere: distinct.length - bySize.size };
    },
  };
}
