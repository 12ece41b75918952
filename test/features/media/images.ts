import sharp from 'sharp';
import { randomToken } from '../../../src/lib/tokens.js';
import { TEST_BASE_URL, type Agent } from '../../helpers/app.js';

export { pixelFloodPng } from '../../helpers/png.js';

/** Test images are made in code (no binary fixtures): noise, so they neither compress to nothing nor resize to one colour. */
export async function noiseImage(width: number, height: number, format: 'jpeg' | 'png' | 'webp' | 'gif', options: { exif?: boolean; alpha?: boolean } = {}): Promise<Buffer> {
  const channels = options.alpha ? 4 : 3;
  const raw = Buffer.alloc(width * height * channels);
  for (let i = 0; i < raw.length; i += 1) raw[i] = (i * 2654435761) >>> 24;
  let image = sharp(raw, { raw: { width, height, channels } });
  if (options.exif) {
    image = image.withExif({
      IFD0: { Artist: 'Secret Photographer', Copyright: 'exif-marker-123' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2964/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 20/1 5671/100' },
    });
  }
  return image.toFormat(format).toBuffer();
}

export function imageForm(fields: Record<string, string>, file?: { filename: string; content: Buffer; contentType?: string }) {
  const boundary = `----gazette${randomToken(8)}`;
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  if (file) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.filename}"\r\nContent-Type: ${file.contentType ?? 'image/png'}\r\n\r\n`));
    parts.push(file.content, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** Posts the upload form as the editor's script does (JSON answer) or as a plain browser form. */
export async function uploadImage(agent: Agent, fields: Record<string, string>, file?: { filename: string; content: Buffer; contentType?: string }, json = true) {
  const { payload, contentType } = imageForm(fields, file);
  return agent.request('POST', `/admin/media?_csrf=${encodeURIComponent(agent.csrfToken ?? '')}`, payload, {
    'content-type': contentType,
    origin: TEST_BASE_URL,
    'sec-fetch-site': 'same-origin',
    ...(json ? { accept: 'application/json' } : {}),
  });
}
