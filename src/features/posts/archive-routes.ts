import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { NotFoundError } from '../../lib/errors.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { movedLocation, redirectMoved } from '../newsletters/moved.js';
import { publicUrls } from '../../lib/urls.js';
import { pageDesign } from '../design/page-design.js';
import { formatDate } from './zoned-time.js';
import type { ArchivePage, PublishingService } from './publishing.js';

/**
 * A post's HTML came from a writer: sanitised, but served as if it were hostile anyway. The archive page
 * is a sandboxed document (an opaque origin, no scripts at all), so even a sanitiser bug could not act
 * with the admin's cookies. Links still open, in the same tab or a new one. The one form allowed is the
 * subscribe form under the post, and only toward this server (`origin`); the logo comes from there too.
 */
export function archiveCsp(origin: string): string {
  return [
    'sandbox allow-forms allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation',
    "default-src 'none'",
    "script-src 'none'",
    "style-src 'unsafe-inline'",
    `img-src https: data: ${origin}`,
    "base-uri 'none'",
    `form-action ${origin}`,
    "frame-ancestors 'none'",
  ].join('; ');
}

const feedParams = z.object({ slug: z.string() });
const archivePostParams = feedParams.extend({ postSlug: z.string() });
/** `access`: a paying reader's signed link from the email (src/domain/paywall.ts). */
const archivePostQuery = z.object({ access: z.unknown().optional().transform((v) => (typeof v === 'string' ? v : undefined)) });

export default async function archiveRoutes(app: TypedApp, opts: { publishing: PublishingService }) {
  const { publishing } = opts;
  const urls = publicUrls(app.ctx.config.baseUrl);
  const pub = { config: { public: true } };
  const csp = archiveCsp(new URL(app.ctx.config.baseUrl).origin);

  /**
   * A page that is not found under `slug` may be under the newsletter's new slug: answers the
   * redirect there when `slug` is a renamed newsletter's old one, and rethrows `err` otherwise.
   */
  async function redirectIfRenamed(err: unknown, slug: string, request: FastifyRequest, reply: FastifyReply) {
    const current = err instanceof NotFoundError ? await publishing.renamedSlug(slug) : undefined;
    if (current === undefined) throw err;
    return redirectMoved(reply, movedLocation(app.ctx.config.baseUrl, request.url, current));
  }

  app.get('/n/:slug/archive/:postSlug', { ...pub, schema: { params: archivePostParams, querystring: archivePostQuery } }, async (request, reply) => {
    const { slug, postSlug } = request.params;
    let page: ArchivePage;
    try {
      page = await publishing.archivePage(slug, postSlug, request.query.access);
    } catch (err) {
      return redirectIfRenamed(err, slug, request, reply);
    }
    // A reader's signed link must not leak onward (Referer) or sit in a shared cache.
    if (request.query.access !== undefined) reply.header('cache-control', 'private, no-store').header('referrer-policy', 'no-referrer');
    reply.header('content-security-policy', csp);
    return reply.page(
      'archive/post',
      {
        ...page,
        title: page.subject || 'Untitled',
        siteName: page.newsletter.name,
        design: pageDesign(page.newsletter, page.homeUrl),
        subscribeUrl: urls.subscribe(page.newsletter.slug),
        published: formatDate(page.publishedAt, page.newsletter.time_zone),
        publishedIso: new Date(page.publishedAt).toISOString(),
      },
      { layout: 'archive/layout' },
    );
  });

  app.get('/n/:slug/feed.xml', { ...pub, schema: { params: feedParams } }, async (request, reply) => {
    const { slug } = request.params;
    let xml: string;
    try {
      xml = await publishing.feed(slug);
    } catch (err) {
      return redirectIfRenamed(err, slug, request, reply);
    }
    return reply.type('application/rss+xml; charset=utf-8').header('cache-control', 'public, max-age=300').send(xml);
  });
}
