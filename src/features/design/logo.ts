import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * The newsletter's logo: checked by its bytes (never by the name or the content type the browser sent),
 * decoded with a pixel cap (a small file can declare 50000×50000 pixels and take gigabytes to decode),
 * re-encoded as PNG (no metadata, no scripts, nothing the original carried along), and stored under
 * DATA_DIR/brand by the hash of the result, with a 64×64 favicon next to it.
 */

export const LOGO_MAX_BYTES = 2 * 1024 * 1024;
/** About 6000×4000: any real logo fits, a decompression bomb does not. */
export const LOGO_MAX_PIXELS = 25_000_000;
/** Stored at twice the display size (up to 600×160 shown), sharp on high-density screens. */
const STORED_WIDTH = 1200;
const STORED_HEIGHT = 320;
const ICON_SIZE = 64;

export type ImageKind = 'png' | 'jpeg' | 'webp' | 'gif';

/** The writer's upload was refused; the message says why, for the form. */
export class LogoError extends Error {}

/** The image type the bytes start with; SVG, HTML and everything else is no image here. */
export function sniffImage(bytes: Uint8Array): ImageKind | undefined {
  const starts = (sig: number[], at = 0) => sig.every((b, i) => bytes[at + i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (starts([0xff, 0xd8, 0xff])) return 'jpeg';
  if (starts([0x47, 0x49, 0x46, 0x38]) && (bytes[4] === 0x37 || bytes[4] === 0x39) && bytes[5] === 0x61) return 'gif';
  if (starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8)) return 'webp';
  return undefined;
}

export interface PreparedLogo {
  file: string;
  png: Buffer;
  icon: Buffer;
  width: number;
  height: number;
}

const REFUSED_TYPE = 'Upload a PNG, JPEG, WebP or GIF image. SVG and other formats are not accepted.';

export async function prepareLogo(bytes: Buffer): Promise<PreparedLogo> {
  if (bytes.length === 0) throw new LogoError('Choose an image file; this one is empty.');
  if (bytes.length > LOGO_MAX_BYTES) throw new LogoError(`The image is larger than ${LOGO_MAX_BYTES / 1024 / 1024} MB.`);
  if (!sniffImage(bytes)) throw new LogoError(REFUSED_TYPE);
  const { default: sharp } = await import('sharp');
  const options = { limitInputPixels: LOGO_MAX_PIXELS, failOn: 'error' as const };
  let meta;
  try {
    meta = await sharp(bytes, options).metadata();
  } catch (err) {
    throw unreadable(err);
  }
  if (!meta.width || !meta.height || meta.width * meta.height > LOGO_MAX_PIXELS) throw new LogoError(TOO_MANY_PIXELS);
  try {
    const png = await sharp(bytes, options)
      .rotate()
      .resize({ width: STORED_WIDTH, height: STORED_HEIGHT, fit: 'inside', withoutEnlargement: true })
      .png()
      .toBuffer({ resolveWithObject: true });
    const icon = await sharp(bytes, options)
      .resize({ width: ICON_SIZE, height: ICON_SIZE, fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 0 } })
      .png()
      .toBuffer();
    const hash = createHash('sha256').update(png.data).digest('hex');
    return { file: `${hash}.png`, png: png.data, icon, width: png.info.width, height: png.info.height };
  } catch (err) {
    throw unreadable(err);
  }
}

const TOO_MANY_PIXELS = 'The image has too many pixels. Upload a logo under 6000×4000 pixels.';

/** sharp's refusal in the writer's words: its pixel cap names a decompression bomb, the rest a bad file. */
function unreadable(err: unknown): LogoError {
  if (/pixel limit/i.test(String((err as Error)?.message))) return new LogoError(TOO_MANY_PIXELS);
  return new LogoError('The image could not be read. It may be damaged; export it again and retry.');
}

/** `<sha256>.png` or `<sha256>-icon.png`: the only names /brand/ serves. */
export const BRAND_FILE = /^[0-9a-f]{64}(-icon)?\.png$/;

export function createLogoStore(dataDir: string) {
  const dir = path.join(dataDir, 'brand');
  return {
    async save(logo: PreparedLogo): Promise<void> {
      await fs.mkdir(dir, { recursive: true });
      // Written under a temporary name and renamed: a reader never gets half a file.
      for (const [name, data] of [[logo.file, logo.png], [logo.file.replace(/\.png$/, '-icon.png'), logo.icon]] as const) {
        const temp = path.join(dir, `.${name}.${process.pid}.tmp`);
        await fs.writeFile(temp, data, { mode: 0o644 });
        await fs.rename(temp, path.join(dir, name));
      }
    },

    /** The stored file, or undefined for any name that is not a stored logo. */
    async read(file: string): Promise<Buffer | undefined> {
      if (!BRAND_FILE.test(file)) return undefined;
      try {
        return await fs.readFile(path.join(dir, file));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
  };
}

export type LogoStore = ReturnType<typeof createLogoStore>;
