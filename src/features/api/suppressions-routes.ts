import { z } from 'zod';
import { emailHash } from '../../domain/suppressions.js';
import { isValidEmail, normalizeEmail } from '../../lib/email.js';
import type { TypedApp } from '../../plugins/schemas.js';
import type { FeedbackService } from '../feedback/service.js';
import { email } from '../subscribers/schemas.js';
import { limitField } from './cursor.js';

type SuppressionListRow = Awaited<ReturnType<FeedbackService['suppression']>>;

/**
 * The suppression list, newest first. Only the address's hash is kept once its subscriber is erased, so
 * an entry names its address when a subscriber still has it, and is addressed by address or hash.
 */

const cursor = z
  .string()
  .max(200)
  .optional()
  .transform((value, ctx) => {
    if (value === undefined || value === '') return null;
    const m = /^(\d{1,15})\.([0-9a-f]{64})$/.exec(Buffer.from(value, 'base64url').toString('utf8'));
    if (m) return { createdAt: Number(m[1]), hash: m[2]! };
    ctx.addIssue({ code: 'custom', message: 'This cursor is not one Gazette gave out; start without a cursor.' });
    return z.NEVER;
  });

const encode = (r: SuppressionListRow) => Buffer.from(`${r.created_at}.${r.email_hash}`).toString('base64url');

const listQuery = z.object({
  cursor,
  limit: limitField,
  reason: z.enum(['bounced', 'complained', 'blocked'], { error: 'Use bounced, complained or blocked.' }).optional(),
});

const addBody = z.object({ email, detail: z.string().max(500, 'Use at most 500 characters.').default('') }).strict();

/** An address (any case) or the 64-hex hash the list shows for an erased subscriber. */
const entryParams = z.object({
  entry: z
    .string()
    .max(320)
    .refine((v) => /^[0-9a-f]{64}$/.test(v) || isValidEmail(v), 'Give an email address or an email_hash from the list.')
    .transform((v) => (/^[0-9a-f]{64}$/.test(v) ? v : emailHash(normalizeEmail(v)))),
});

export const suppressionJson = (r: SuppressionListRow) => ({
  email: r.email,
  email_hash: r.email_hash,
  reason: r.reason,
  source: r.source,
  detail: r.detail,
  subscriber_id: r.subscriber_id,
  created_at: new Date(r.created_at).toISOString(),
});

export function suppressionApiRoutes(deps: { feedback: FeedbackService }) {
  const { feedback } = deps;
  return async (app: TypedApp) => {
    app.get('/suppressions', { config: { scope: 'suppressions:read' }, schema: { summary: 'List suppressed addresses, newest first', tags: ['suppressions'], querystring: listQuery } }, async (request) => {
      const q = request.query;
      const { rows, next } = await feedback.suppressions({ q: '', reason: q.reason ?? '', source: '' }, q.cursor, q.limit);
      const last = rows[rows.length - 1];
      return { data: rows.map(suppressionJson), next_cursor: next && last ? encode(last) : null };
    });

    app.get('/suppressions/:entry', { config: { scope: 'suppressions:read' }, schema: { summary: 'Whether an address is suppressed, and why', tags: ['suppressions'], params: entryParams } }, async (request) =>
      suppressionJson(await feedback.suppression(request.params.entry)),
    );

    app.post('/suppressions', { config: { scope: 'suppressions:write' }, schema: { summary: 'Block an address: Gazette mails it no more', tags: ['suppressions'], body: addBody } }, async (request, reply) => {
      const { row, created } = await feedback.addSuppression(request.body.email, request.body.detail, 'api', `API key “${request.apiKey!.name}”`);
      return reply.code(created ? 201 : 200).send(suppressionJson(row));
    });

    app.delete('/suppressions/:entry', { config: { scope: 'suppressions:write' }, schema: { summary: 'Let Gazette mail an address again', tags: ['suppressions'], params: entryParams } }, async (request, reply) => {
      await feedback.removeSuppression(request.params.entry, `API key “${request.apiKey!.name}”`);
      return reply.code(204).send();
    });
  };
}
