import type { FastifyReply, FastifyRequest } from 'fastify';
import { ConflictError, ValidationError } from '../../lib/errors.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { htmxRequest } from '../../plugins/views.js';
import { checkBody, linkParams, linksPageQuery, postParams } from './schemas.js';
import type { LinkService } from './service.js';

const HEAD = '<link rel="stylesheet" href="/public/posts.css">\n  <link rel="stylesheet" href="/public/links.css">';

/**
 * Link checking for a draft. The page lists every link with its last result. With htmx, "Check links"
 * answers the table at once with one self-loading row per link that is due, so results fill in as each
 * check finishes; without JavaScript the same button checks everything (within a budget) and comes back
 * to the finished table.
 */
export default async function linkRoutes(app: TypedApp, opts: { links: LinkService }) {
  const { links } = opts;

  async function linksPage(request: FastifyRequest, reply: FastifyReply, postId: number, extra: { notice?: string; problem?: string; checking?: 'due' | 'all' } = {}, status = 200) {
    const report = await links.report(postId, request.user!);
    return reply.page(
      'links/page',
      { title: `Links in “${report.post.subject || 'Untitled post'}”`, head: HEAD, ...report, ...extra },
      { fragment: 'links/_table', status },
    );
  }

  app.get('/admin/posts/:id/links', { schema: { params: postParams, querystring: linksPageQuery } }, async (request, reply) => {
    const q = request.query;
    const notice = q.replaced ? 'The link now points to its final address.' : q.checked ? 'Links checked.' : undefined;
    return linksPage(request, reply, request.params.id, { notice });
  });

  app.post('/admin/posts/:id/links/check', { schema: { params: postParams, body: checkBody } }, async (request, reply) => {
    const { id } = request.params;
    const { fresh } = request.body;
    // With htmx the rows do the checking, each in its own request, so results arrive one by one.
    if (htmxRequest(request).isHtmx) return linksPage(request, reply, id, { checking: fresh ? 'all' : 'due' });
    await links.checkAll(id, request.user!, fresh);
    return reply.redirect(`/admin/posts/${id}/links?checked=1`, 303);
  });

  app.post('/admin/posts/:id/links/:link/check', { schema: { params: linkParams, body: checkBody } }, async (request, reply) => {
    const { id, link } = request.params;
    const { row, counts } = await links.checkOne(id, link, request.user!, request.body.fresh);
    if (!htmxRequest(request).isHtmx) return reply.redirect(`/admin/posts/${id}/links?checked=1`, 303);
    // The row, and the summary above the table out of band, so the counts follow the rows as they finish.
    return reply.page('links/_row-update', { row, counts, post: { id } }, { fragment: 'links/_row-update' });
  });

  app.post('/admin/posts/:id/links/:link/use-final', { schema: { params: linkParams } }, async (request, reply) => {
    const { id, link } = request.params;
    try {
      await links.useFinalUrl(id, link, request.user!);
      return reply.redirect(`/admin/posts/${id}/links?replaced=1`, 303);
    } catch (err) {
      if (err instanceof ConflictError) return linksPage(request, reply, id, { problem: err.message }, 409);
      if (err instanceof ValidationError) return linksPage(request, reply, id, { problem: Object.values(err.fields).join(' ') }, 422);
      throw err;
    }
  });
}
