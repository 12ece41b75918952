import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type Sharp from 'sharp';
import { CONTENT_TYPES, EXTENSIONS, sniffImage, type ImageType } from './sniff.js';

/**
 * Turns an upload into the files Gazette keeps: the original re-encoded without its metadata (EXIF,
 * including GPS position, XMP, ICC comments), turned upright, and narrower copies for email. Everything
 * happens in memory before anything is stored, so a refused or broken image leaves nothing behind.
 */

/** Widths an email column (600 px) needs, at 1x and for high-density screens. */
export const EMAIL_WIDTHS = [600, 1200] as const;
/** A pixel flood (a tiny file that decodes to gigapixels) is refused before it is decoded. */
export const MAX_INPUT_PIXELS = 40_000_000;

export class ImageRefused extends Error {
  constructor(
    readonly reason: 'type' | 'svg' | 'pixels' | 'broken' | 'size',
    message: string,
  ) {
    super(message);
  }
}

export interface ProcessedFile {
  key: string;
  /** 0 for the original, else the width it was resized to. */
  variant: number;
  width: number;
  height: number;
  bytes: Buffer;
  contentType: string;
}

export interface ProcessedImage {
  uploadHash: string;
  type: ImageType;
  width: number;
  height: number;
  files: ProcessedFile[];
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Refuses what is not a PNG, JPEG, GIF or WebP by its bytes, with a message the writer can act on. */
export function acceptedType(bytes: Buffer): ImageType {
  const sniffed = sniffImage(bytes);
  if (sniffed.kind === 'svg') {
    throw new ImageRefused('svg', 'SVG images are refused: they can carry scripts. Export the image as PNG and upload that.');
  }
  if (sniffed.kind === 'other') {
    throw new ImageRefused('type', 'This file is not a PNG, JPEG, GIF or WebP image (whatever its name says).');
  }
  return sniffed.type;
}

let sharp: typeof Sharp | undefined;

function decoder(bytes: Buffer, type: ImageType) {
  // sharp (libvips) adds some 20 MB to a process: it is loaded on the first upload, not at start-up.
  sharp ??= createRequire(import.meta.url)('sharp') as typeof Sharp;
  // failOn 'warning' also refuses a file cut short; animated GIF and WebP keep all their frames.
  return sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'warning', animated: type === 'gif' || type === 'webp' });
}

/** The format of the email copies: WebP is kept as WebP only on the web; Outlook for Windows cannot show it. */
function emailType(type: ImageType, hasAlpha: boolean): ImageType {
  if (type !== 'webp') return type;
  return hasAlpha ? 'png' : 'jpeg';
}

async function encode(bytes: Buffer, type: ImageType, out: ImageType, width?: number) {
  let pipeline = decoder(bytes, type).rotate();
  if (width !== undefined) pipeline = pipeline.resize({ width, withoutEnlargement: true });
  if (out === 'jpeg') pipeline = pipeline.jpeg({ quality: 85, mozjpeg: true });
  else if (out === 'png') pipeline = pipeline.png({ compressionLevel: 9 });
  else if (out === 'gif') pipeline = pipeline.gif();
  else pipeline = pipeline.webp({ quality: 85 });
  // sharp writes no metadata unless asked to: the output carries no EXIF, GPS or XMP.
  const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
  const key = `${sha256(data)}.${EXTENSIONS[out]}`;
  // For animations, sharp reports the height of all frames stacked; pageHeight is one frame's.
  const height = info.pageHeight ?? info.height;
  return { key, width: info.width, height, bytes: data, contentType: CONTENT_TYPES[out] };
}

function refusal(err: unknown): ImageRefused {
  if (err instanceof ImageRefused) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(message)) {
    return new ImageRefused('pixels', `This image is too large in pixels (more than ${MAX_INPUT_PIXELS / 1_000_000} megapixels). Scale it down and upload it again.`);
  }
  return new ImageRefused('broken', 'This image could not be read: it is damaged or cut short. Export it again and upload that.');
}

export async function processImage(bytes: Buffer): Promise<ProcessedImage> {
  const type = acceptedType(bytes);
  try {
    const meta = await decoder(bytes, type).metadata();
    if (meta.format !== type) throw new ImageRefused('broken', 'This image could not be read: its contents do not match its type.');
    const original = await encode(bytes, type, type);
    const out = emailType(type, meta.hasAlpha === true);
    const files: ProcessedFile[] = [{ ...original, variant: 0 }];
    const made = new Set<number>();
    for (const width of EMAIL_WIDTHS) {
      // Never enlarged: a narrow image has fewer copies (none when the original already suits email).
      const target = Math.min(width, original.width);
      if ((target === original.width && out === type) || made.has(target)) continue;
      made.add(target);
      files.push({ ...(await encode(bytes, type, out, target)), variant: width });
    }
    return { uploadHash: sha256(bytes), type, width: original.width, height: original.height, files };
  } catch (err) {
    throw refusal(err);
  }
}
