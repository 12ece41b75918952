import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../lib/errors.js';
import { clearDevMessages, findDevMessage, listDevMessages } from '../../sending/dev-outbox.js';

const PAGE_SIZE = 50;

/** The dev outbox: mail kept instead of delivered while no SMTP relay is configured. */
export default async function outboxRoutes(app: FastifyInstance) {
  const { db } = app.ctx;

  app.get('/admin/outbox', async (request, reply) => {
    const before = Number((request.query as { before?: string }).before);
    const rows = await listDevMessages(db, PAGE_SIZE + 1, Number.isInteger(before) && before > 0 ? before : undefined);
    const messages = rows.slice(0, PAGE_SIZE);
    const nextBefore = rows.length > PAGE_SIZE ? messages[messages.length - 1]?.id : undefined;
    return reply.page('outbox/index', { title: 'Outbox', messages, nextBefore, captured: app.ctx.mailer.kind === 'dev-outbox' });
  });

  app.get('/admin/outbox/:id', async (request, reply) => {
    const id = Number((request.params as { id: string }).id);
    const row = Number.isInteger(id) && id > 0 ? await findDevMessage(db, id) : undefined;
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
    await clearDevMessages(db);
    return reply.redirect('/admin/outbox', 303);
  });
}
