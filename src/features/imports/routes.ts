import { createWriteStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fastifyMultipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import type { ImportRow } from '../../db/tables/imports.js';
import { ValidationError } from '../../lib/errors.js';
import { parseForm } from '../../lib/forms.js';
import { idField } from '../../lib/params.js';
import { randomToken } from '../../lib/tokens.js';
import { CONTROL_MESSAGE, hasControlCharacters } from '../../plugins/input-guard.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { attachmentHeaders, csvLine } from '../subscribers/csv.js';
import { TAG_MAX } from '../subscribers/schemas.js';
import { listRecentImports, problemsPage } from './repository.js';
import type { ImportService } from './service.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Background CSV imports of this process: `idle()` waits for them (tests, shutdown). */
    imports: ImportService;
  }
}

export const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;

const importSchema = z.object({
  newsletter_id: idField('Choose a newsletter.'),
  mode: z.enum(['confirmed', 'send_confirmation'], { error: 'Choose whether these people have already confirmed.' }),
  // A checkbox: present ("on") when ticked.
  send_welcome: z.string().optional().transform((v) => v !== undefined),
  tags: z
    .string()
    .optional()
    .transform((v) => [...new Set((v ?? '').split(',').map((t) => t.replace(/\s+/g, ' ').trim()).filter(Boolean))])
    .pipe(z.array(z.string().max(TAG_MAX, `Use at most ${TAG_MAX} characters for a tag.`)).max(10, 'Apply at most 10 tags.')),
});

const importParams = z.object({ publicId: z.string() });

export interface ImportPluginOptions {
  imports: ImportService;
  /** Where uploads wait while they are imported; the system temp folder by default. */
  uploadDir?: string;
  maxUploadBytes?: number;
}

function progressOf(row: ImportRow) {
  const percent = row.status === 'running' ? (row.file_size > 0 ? Math.min(99, Math.floor((row.bytes_read / row.file_size) * 100)) : 0) : 100;
  const unchanged = row.total_rows - row.created_count - row.updated_count - row.skipped_count - row.invalid_count - row.duplicate_count;
  const problems = row.skipped_count + row.invalid_count + row.duplicate_count;
  return { percent, unchanged: Math.max(0, unchanged), problems, tags: JSON.parse(row.tags) as string[] };
}

/**
 * CSV import under /admin/subscribers/import. Multipart parsing is registered only in this plugin's
 * own scope, with a size cap; the upload is streamed to a temp file, then imported in the background
 * while the page polls a progress fragment.
 */
export default fp<ImportPluginOptions>(
  async (app, opts) => {
    const { db } = app.ctx;
    const { imports } = opts;
    const maxBytes = opts.maxUploadBytes ?? MAX_UPLOAD_BYTES;
    const uploadDir = opts.uploadDir ?? os.tmpdir();
    app.decorate('imports', imports);

    await app.register(async (scope: TypedApp) => {
      await scope.register(fastifyMultipart, { limits: { fileSize: maxBytes, files: 1, fields: 10, fieldSize: 4096, parts: 12 } });

      async function formPage(reply: FastifyReply, extra: Record<string, unknown> = {}, status = 200) {
        const [newsletters, recent] = await Promise.all([imports.newsletters(), listRecentImports(db, 20)]);
        return reply.page(
          'imports/new',
          { title: 'Import subscribers', newsletters, recent, values: { mode: 'confirmed' }, maxMegabytes: Math.floor(maxBytes / 1024 / 1024), ...extra },
          { status },
        );
      }

      scope.get('/admin/subscribers/import', async (_request, reply) => formPage(reply));

      scope.post('/admin/subscribers/import', async (request, reply) => {
        const fields: Record<string, string> = {};
        let stored: { path: string; filename: string; size: number } | null = null;
        // Until the body is read, an error is the upload's own (no boundary, a body cut short), unless the disk failed.
        let reading = true;
        try {
          if (!request.isMultipart()) throw new ValidationError({ file: 'Choose a CSV file to upload.' });
          // Multipart bodies skip the input guard's body check (it runs before they are parsed): the same rule is applied here.
          const unreadable: Record<string, string> = {};
          for await (const part of request.parts()) {
            if (part.type === 'field') {
              if (typeof part.value !== 'string') continue;
              if (!hasControlCharacters(part.fieldname) && !hasControlCharacters(part.value)) fields[part.fieldname] = part.value;
              else if (part.fieldname in importSchema.shape) unreadable[part.fieldname] = CONTROL_MESSAGE;
              else unreadable._form = 'Part of the form contains control characters (such as NUL bytes). Reload the page and try again.';
              continue;
            }
            if (part.fieldname !== 'file' || stored || hasControlCharacters(part.filename)) {
              if (part.fieldname === 'file' && !stored) unreadable.file = 'The file name contains control characters. Rename the file and choose it again.';
              part.file.resume();
              continue;
            }
            const filePath = path.join(uploadDir, `gazette-import-${randomToken(12)}.csv`);
            stored = { path: filePath, filename: part.filename || 'upload.csv', size: 0 };
            await pipeline(part.file, createWriteStream(filePath, { mode: 0o600 }));
            stored.size = (await fs.stat(filePath)).size;
          }
          reading = false;
          if (Object.keys(unreadable).length > 0) throw new ValidationError(unreadable);
          const input = parseForm(importSchema, fields);
          if (!stored || stored.size === 0) throw new ValidationError({ file: 'Choose a CSV file to upload; this one is empty.' });
          const started = await imports.start({ newsletterId: input.newsletter_id, mode: input.mode, tags: input.tags, filename: stored.filename, filePath: stored.path, sendWelcome: input.send_welcome });
          stored = null; // the import owns the file now
          return reply.redirect(`/admin/subscribers/import/${started.publicId}`, 303);
        } catch (err) {
          if (stored) await fs.rm(stored.path, { force: true }).catch(() => {});
          const { statusCode: status, code } = err as { statusCode?: number; code?: string };
          if (err instanceof ValidationError) return formPage(reply, { errors: err.fields, values: fields }, 422);
          if (code === 'FST_REQ_FILE_TOO_LARGE') {
            return formPage(reply, { errors: { file: `The file is larger than ${Math.floor(maxBytes / 1024 / 1024)} MB. Split it into smaller files.` }, values: fields }, 413);
          }
          const diskFailed = (err as NodeJS.ErrnoException).syscall !== undefined;
          if ((status !== undefined && status >= 400 && status < 500) || (reading && status === undefined && !diskFailed)) {
            return formPage(reply, { errors: { file: 'The upload could not be read. Choose the file again and retry.' }, values: fields }, 400);
          }
          throw err;
        }
      });

      scope.get('/admin/subscribers/import/:publicId', { schema: { params: importParams } }, async (request, reply) => {
        const row = await imports.get(request.params.publicId);
        const newsletter = (await imports.newsletters()).find((n) => n.id === row.newsletter_id);
        const report = await imports.reportSummary(row);
        return reply.page(
          'imports/show',
          { title: `Import of ${row.filename}`, job: row, newsletter, ...progressOf(row), ...report },
          { fragment: 'imports/_progress' },
        );
      });

      scope.get('/admin/subscribers/import/:publicId/problems.csv', { schema: { params: importParams } }, async (request, reply) => {
        const row = await imports.get(request.params.publicId);
        reply.headers(attachmentHeaders(`import-problems-${row.public_id}.csv`));
        return reply.send(Readable.from(problemsCsv(app, row.id)));
      });
    });
  },
  { name: 'gazette-imports', dependencies: ['gazette-context', 'gazette-views'] },
);

async function* problemsCsv(app: FastifyInstance, importId: number): AsyncGenerator<string> {
  yield csvLine(['line', 'email', 'problem']);
  let after = { line: 0, id: 0 };
  for (;;) {
    const page = await problemsPage(app.ctx.db, importId, after, 1000);
    if (page.length === 0) return;
    yield page.map((p) => csvLine([p.line, p.email, p.reason])).join('');
    const last = page[page.length - 1]!;
    after = { line: last.line, id: last.id };
  }
}
