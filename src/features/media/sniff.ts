/**
 * The type of an upload, told by its first bytes only: the file name and the browser's Content-Type are
 * the uploader's word, and a script named photo.png must not be served as a picture (or as a script).
 */
export type ImageType = 'png' | 'jpeg' | 'gif' | 'webp';

export const CONTENT_TYPES: Record<ImageType, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
};

export const EXTENSIONS: Record<ImageType, string> = { png: 'png', jpeg: 'jpg', gif: 'gif', webp: 'webp' };

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export type Sniffed = { kind: 'image'; type: ImageType } | { kind: 'svg' } | { kind: 'other' };

export function sniffImage(bytes: Buffer): Sniffed {
  if (bytes.subarray(0, 8).equals(PNG)) return { kind: 'image', type: 'png' };
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return { kind: 'image', type: 'jpeg' };
  const head = bytes.subarray(0, 12).toString('latin1');
  if (head.startsWith('GIF87a') || head.startsWith('GIF89a')) return { kind: 'image', type: 'gif' };
  if (head.startsWith('RIFF') && head.slice(8, 12) === 'WEBP') return { kind: 'image', type: 'webp' };
  // SVG is XML and may carry scripts and external references: it is named so the writer is told why.
  const text = bytes.subarray(0, 1024).toString('utf8').replace(/^\uFEFF/, '').trimStart().toLowerCase();
  if (/^(<\?xml[\s\S]*?\?>\s*)?(<!--[\s\S]*?-->\s*)*(<!doctype svg[^>]*>\s*)?<svg[\s>]/.test(text)) return { kind: 'svg' };
  return { kind: 'other' };
}
