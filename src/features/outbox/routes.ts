import { z } from 'zod';
import { NotFoundError } from '../../lib/errors.js';
import { pathId } from '../../lib/params.js';
import { queryChoice, queryFlag, queryId } from '../../lib/query.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { MAIL_STATUSES, mailLogRow, RETRY_SUMMARY, statusCounts } from './mail-log.js';
import type { OutboxService } from './service.js';

const PAGE_SIZE = 50;
const NOT_IN_OUTBOX = 'That message is not in the outbox.';
const NOT_WAITING = 'That message is not waiting to be sent again.';

/** The dev outbox: mail kept instead of delivered while no SMTP relay is configured. */
export default async function outboxRoutes(app: TypedApp, opts: { outbox: OutboxService }) {
  const { outbox } = opts;

  app.get('/admin/outbox', { schema: { querystring: z.object({ before: queryId }) } }, async (request, reply) => {
    const rows = await outbox.captured(PAGE_SIZE + 1, request.query.before);
    const messages = rows.slice(0, PAGE_SIZE);
    const nextBefore = rows.length > PAGE_SIZE ? messages[messages.length - 1]?.id : undefined;
    return reply.page('outbox/index', { title: 'Outbox', messages, nextBefore, captured: app.ctx.mailer.kind === 'dev-outbox' });
  });

  app.get('/admin/outbox/:id', { schema: { params: z.object({ id: pathId(NOT_IN_OUTBOX) }) } }, async (request, reply) => {
    const row = await outbox.message(request.params.id);
    if (!row) throw new NotFoundError(NOT_IN_OUTBOX);
    // Loaded on first use: the dev outbox viewer is rarely opened and mailparser is slow to load.
    const { simpleParser } = await import('mailparser');
    const parsed = await simpleParser(row.raw);
    return reply.page('outbox/show', {
      title: row.subject,
      message: row,
      text: parsed.text ?? '',
      html: typeof parsed.html === 'string' ? parsed.html : '',
      headers: parsed.headerLines.map((h) => h.line),
    });
  });

  app.post('/admin/outbox/clear', async (_request, reply) => {
    await outbox.clear();
    return reply.redirect('/admin/outbox', 303);
  });

  // The mail log: single messages (confirmations, notices, resets) and what became of each.
  const utc = (ms: number) => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
  const mailQuery = z.object({ before: queryId, status: queryChoice(MAIL_STATUSES), resent: queryFlag() });
  app.get('/admin/mail', { schema: { querystring: mailQuery } }, async (request, reply) => {
    const { before, status, resent } = request.query;
    const { rows, counts } = await outbox.mailLog(PAGE_SIZE + 1, before, status);
    const page = rows.slice(0, PAGE_SIZE);
    return reply.page('outbox/mail', {
      title: 'Mail log',
      rows: page.map((r) => mailLogRow(r, utc)),
      counts: statusCounts(counts),
      status,
      retrySummary: RETRY_SUMMARY,
      resent,
      nextBefore: rows.length > PAGE_SIZE ? page[page.length - 1]?.id : undefined,
    });
  });

  app.post('/admin/mail/:id/resend', { schema: { params: z.object({ id: pathId(NOT_WAITING) }) } }, async (request, reply) => {
    if (!(await outbox.resend(request.params.id))) throw new NotFoundError(NOT_WAITING);
    return reply.redirect('/admin/mail?resent=1', 303);
  });
}
