import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../lib/errors.js';
import { idParam, parseId } from '../../lib/params.js';
import type { MailStatus } from '../../db/tables/mail-outbox.js';
import { MAIL_STATUSES, mailLogRow, RETRY_SUMMARY, statusCounts } from './mail-log.js';
import type { OutboxService } from './service.js';

const PAGE_SIZE = 50;

/** The dev outbox: mail kept instead of delivered while no SMTP relay is configured. */
export default async function outboxRoutes(app: FastifyInstance, opts: { outbox: OutboxService }) {
  const { outbox } = opts;

  app.get('/admin/outbox', async (request, reply) => {
    const before = parseId((request.query as { before?: unknown }).before) ?? undefined;
    const rows = await outbox.captured(PAGE_SIZE + 1, before);
    const messages = rows.slice(0, PAGE_SIZE);
    const nextBefore = rows.length > PAGE_SIZE ? messages[messages.length - 1]?.id : undefined;
    return reply.page('outbox/index', { title: 'Outbox', messages, nextBefore, captured: app.ctx.mailer.kind === 'dev-outbox' });
  });

  app.get('/admin/outbox/:id', async (request, reply) => {
    const row = await outbox.message(idParam(request.params, 'That message is not in the outbox.'));
    if (!row) throw new NotFoundError('That message is not in the outbox.');
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
  app.get('/admin/mail', async (request, reply) => {
    const q = request.query as { before?: string; status?: string; resent?: string };
    const before = parseId(q.before) ?? undefined;
    const status = MAIL_STATUSES.find((s) => s === q.status) as MailStatus | undefined;
    const { rows, counts } = await outbox.mailLog(PAGE_SIZE + 1, before, status);
    const page = rows.slice(0, PAGE_SIZE);
    return reply.page('outbox/mail', {
      title: 'Mail log',
      rows: page.map((r) => mailLogRow(r, utc)),
      counts: statusCounts(counts),
      status,
      retrySummary: RETRY_SUMMARY,
      resent: q.resent === '1',
      nextBefore: rows.length > PAGE_SIZE ? page[page.length - 1]?.id : undefined,
    });
  });

  app.post('/admin/mail/:id/resend', async (request, reply) => {
    const id = idParam(request.params, 'That message is not waiting to be sent again.');
    if (!(await outbox.resend(id))) {
      throw new NotFoundError('That message is not waiting to be sent again.');
    }
    return reply.redirect('/admin/mail?resent=1', 303);
  });
}
