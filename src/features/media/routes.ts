import fastifyMultipart from '@fastify/multipart';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ValidationError } from '../../lib/errors.js';
import { parseForm } from '../../lib/forms.js';
import { optionalIdField } from '../../lib/params.js';
import { queryText } from '../../lib/query.js';
import { CONTROL_MESSAGE, hasControlCharacters } from '../../plugins/input-guard.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { wantsJson } from '../../plugins/session.js';
import { ImageRefused } from './images.js';
import { imageMarkdown, type MediaService } from './service.js';

/** Where an uploaded image's Markdown goes when the no-JavaScript form names a post. */
export interface PostBodies {
  appendToBody(postId: number, markdown: string): Promise<void>;
}

const uploadSchema = z.object({
  alt: z
    .string({ error: 'Describe the image for readers who cannot see it.' })
    .transform((v) => v.replace(/\s+/g, ' ').trim())
    .pipe(z.string().min(1, 'Describe the image for readers who cannot see it.').max(300, 'Keep the description under 300 characters.')),
  post_id: optionalIdField('That post does not exist.'),
});

const sizeMessage = (maxBytes: number) => `The image is larger than ${Math.floor(maxBytes / 1024 / 1024)} MB. Save it smaller and upload it again.`;

const STATUS: Record<ImageRefused['reason'], number> = { size: 413, type: 415, svg: 415, pixels: 422, broken: 422 };

interface Upload {
  fields: Record<string, string>;
  bytes: Buffer | undefined;
  problems: Record<string, string>;
}

/** Reads the form into memory, the file capped at `maxBytes` (one byte over is enough to refuse it). */
async function readUpload(request: FastifyRequest, maxBytes: number): Promise<Upload> {
  const upload: Upload = { fields: {}, bytes: undefined, problems: {} };
  if (!request.isMultipart()) throw new ValidationError({ file: 'Choose an image to upload.' });
  for await (const part of request.parts()) {
    if (part.type === 'field') {
      if (typeof part.value !== 'string') continue;
      if (hasControlCharacters(part.fieldname) || hasControlCharacters(part.value)) upload.problems[part.fieldname in uploadSchema.shape ? part.fieldname : '_form'] = CONTROL_MESSAGE;
      else upload.fields[part.fieldname] = part.value;
      continue;
    }
    if (part.fieldname !== 'file' || upload.bytes) {
      part.file.resume();
      continue;
    }
    const bytes = await part.toBuffer();
    if (part.file.truncated || bytes.length > maxBytes) throw new ImageRefused('size', sizeMessage(maxBytes));
    upload.bytes = bytes;
  }
  return upload;
}

/**
 * Images: uploads from the post editor (a script posts them and inserts the Markdown; without it, a form
 * does the same and appends to the post) and the public, immutable file URLs that emails point to.
 */
export default async function mediaRoutes(app: TypedApp, opts: { media: MediaService; posts: PostBodies }) {
  const { media, posts } = opts;

  app.get('/media/:key', { config: { public: true }, schema: { params: z.object({ key: z.string() }) } }, async (request, reply) => {
    const file = await media.file(request.params.key);
    if (!file) return reply.code(404).type('text/plain; charset=utf-8').send('No such image.');
    return reply
      .type(file.contentType)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .send(file.bytes);
  });

  const uploadPage = (reply: FastifyReply, extra: Record<string, unknown>, status = 200) =>
    reply.page('media/new', { title: 'Upload an image', maxMegabytes: Math.floor(media.maxBytes / 1024 / 1024), values: {}, ...extra }, { status });

  app.get('/admin/media/new', { schema: { querystring: z.object({ post: queryText }) } }, async (request, reply) =>
    uploadPage(reply, { values: { post_id: /^\d{1,9}$/.test(request.query.post ?? '') ? request.query.post : '' } }),
  );

  await app.register(async (scope: TypedApp) => {
    await scope.register(fastifyMultipart, { limits: { fileSize: media.maxBytes + 1, files: 1, fields: 5, fieldSize: 4096, parts: 8 } });

    scope.post('/admin/media', async (request, reply) => {
      const json = wantsJson(request);
      let fields: Record<string, string> = {};
      try {
        const upload = await readUpload(request, media.maxBytes);
        fields = upload.fields;
        if (Object.keys(upload.problems).length > 0) throw new ValidationError(upload.problems);
        const input = parseForm(uploadSchema, upload.fields);
        if (!upload.bytes) throw new ValidationError({ file: 'Choose an image to upload.' });
        const image = await media.upload(upload.bytes);
        const markdown = imageMarkdown(input.alt, image.emailUrl);
        if (json) return reply.code(201).send({ url: image.emailUrl, markdown, width: image.width, height: image.height, files: image.files.map((f) => ({ url: f.url, width: f.width, height: f.height, bytes: f.bytes })) });
        if (input.post_id !== null) {
          await posts.appendToBody(input.post_id, markdown);
          return reply.redirect(`/admin/posts/${input.post_id}/edit?saved=1`, 303);
        }
        return uploadPage(reply, { markdown, image }, 201);
      } catch (err) {
        const refused = refusalOf(err, media.maxBytes);
        if (!refused) throw err;
        if (json) return reply.code(refused.status).send({ error: { code: 'image_refused', message: Object.values(refused.fields).join(' '), fields: refused.fields } });
        return uploadPage(reply, { errors: refused.fields, values: fields }, refused.status);
      }
    });
  });
}

/** The answer to an upload that is refused, or undefined for an error that is not the upload's fault. */
function refusalOf(err: unknown, maxBytes: number): { status: number; fields: Record<string, string> } | undefined {
  if (err instanceof ImageRefused) return { status: STATUS[err.reason], fields: { file: err.message } };
  if (err instanceof ValidationError) return { status: 422, fields: err.fields };
  const { statusCode, code } = err as { statusCode?: number; code?: string };
  if (code === 'FST_REQ_FILE_TOO_LARGE') return { status: 413, fields: { file: sizeMessage(maxBytes) } };
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) return { status: 400, fields: { file: 'The upload could not be read. Choose the file again and retry.' } };
  // Errors from busboy (a body cut short, a bad boundary) carry no status: they are the upload's own.
  if (err instanceof Error && statusCode === undefined && (err as NodeJS.ErrnoException).syscall === undefined && /multipart|boundary|unexpected end|part/i.test(err.message)) {
    return { status: 400, fields: { file: 'The upload could not be read. Choose the file again and retry.' } };
  }
  return undefined;
}
