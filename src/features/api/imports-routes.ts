import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { ImportRow } from '../../db/tables/imports.js';
import { ForbiddenError, ValidationError } from '../../lib/errors.js';
import { idField } from '../../lib/params.js';
import { randomToken } from '../../lib/tokens.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { MAX_UPLOAD_BYTES } from '../imports/routes.js';
import type { ImportService } from '../imports/service.js';
import { TAG_MAX } from '../subscribers/schemas.js';
import { hasScope } from './keys.js';

/**
 * CSV imports through the API: the file is the request body (`Content-Type: text/csv`), the choices are in
 * the query string, and the import runs in the background exactly as one started from the admin.
 */

const startQuery = z.object({
  newsletter_id: idField('Give the id of a newsletter (GET /api/v1/newsletters).'),
  mode: z.enum(['confirmed', 'send_confirmation'], { error: 'Use confirmed (they already opted in) or send_confirmation.' }),
  tags: z
    .string()
    .max(2000)
    .optional()
    .transform((v) => [...new Set((v ?? '').split(',').map((t) => t.replace(/\s+/g, ' ').trim()).filter(Boolean))])
    .pipe(z.array(z.string().max(TAG_MAX, `Use at most ${TAG_MAX} characters for a tag.`)).max(10, 'Apply at most 10 tags.')),
  filename: z.string().max(200).regex(/^[^/\\]*$/, 'Give a file name without folders.').optional(),
});

const importParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'There is no import with that id.') });

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

export function importJson(row: ImportRow) {
  return {
    id: row.public_id,
    newsletter_id: row.newsletter_id,
    filename: row.filename,
    mode: row.mode,
    tags: JSON.parse(row.tags) as string[],
    status: row.status,
    error: row.error,
    rows: row.total_rows,
    created: row.created_count,
    updated: row.updated_count,
    skipped: row.skipped_count,
    invalid: row.invalid_count,
    duplicates: row.duplicate_count,
    bytes_read: row.bytes_read,
    file_size: row.file_size,
    created_at: iso(row.created_at),
    finished_at: iso(row.finished_at),
  };
}

export function importApiRoutes(deps: { imports: ImportService; uploadDir?: string | undefined }) {
  const { imports } = deps;
  const uploadDir = deps.uploadDir ?? os.tmpdir();
  return async (app: TypedApp) => {
    app.addContentTypeParser(['text/csv', 'application/csv'], { parseAs: 'buffer', bodyLimit: MAX_UPLOAD_BYTES }, (_request, body, done) => done(null, body));

    app.post(
      '/imports',
      { config: { scope: 'subscribers:write' }, bodyLimit: MAX_UPLOAD_BYTES, schema: { summary: 'Import subscribers from a CSV file sent as the body (text/csv)', tags: ['imports'], querystring: startQuery } },
      async (request, reply) => {
        const q = request.query;
        // Importing people as confirmed vouches for their consent, like adding one as active.
        if (q.mode === 'confirmed' && !hasScope(request.apiKey!.scopes, 'subscribers:write:trusted')) {
          throw new ForbiddenError('Importing as confirmed needs the "subscribers:write:trusted" scope; use mode=send_confirmation and they confirm by email.');
        }
        const body = request.body;
        if (!Buffer.isBuffer(body)) throw new ValidationError({ body: 'Send the CSV file as the body, with Content-Type: text/csv.' });
        if (body.length === 0) throw new ValidationError({ body: 'The CSV file is empty.' });
        const filePath = path.join(uploadDir, `gazette-import-${randomToken(12)}.csv`);
        await fs.writeFile(filePath, body, { mode: 0o600 });
        const started = await imports.start({ newsletterId: q.newsletter_id, mode: q.mode, tags: q.tags, filename: q.filename ?? 'api-upload.csv', filePath });
        return reply.code(202).header('location', `/api/v1/imports/${started.publicId}`).send(importJson(await imports.get(started.publicId)));
      },
    );

    app.get('/imports/:id', { config: { scope: 'subscribers:read' }, schema: { summary: 'An import’s progress and counts', tags: ['imports'], params: importParams } }, async (request) =>
      importJson(await imports.get(request.params.id)),
    );
  };
}
