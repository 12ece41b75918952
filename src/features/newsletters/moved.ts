import type { FastifyReply } from 'fastify';

/**
 * Where a GET to a renamed newsletter's old address goes: the same path under its current slug, with
 * the query kept, on the public base URL (a proxy may serve the app under a path prefix).
 */
export function movedLocation(baseUrl: string, requestUrl: string, slug: string): string {
  const rest = requestUrl.replace(/^\/n\/[^/?]*/, '');
  // Raw bytes the client sent outside printable ASCII are percent-encoded: a header cannot carry them.
  const safe = rest.replace(/[^\x21-\x7e]/g, (c) =>
    c.charCodeAt(0) <= 0xff ? `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}` : encodeURIComponent(c),
  );
  return `${baseUrl}/n/${encodeURIComponent(slug)}${safe}`;
}

/**
 * 301, so that search engines and feed readers move to the new address; kept by caches for an hour
 * only, because the newsletter may take the old slug back, and a browser holding a permanent redirect
 * from it would then loop.
 */
export function redirectMoved(reply: FastifyReply, location: string) {
  return reply.header('cache-control', 'public, max-age=3600').redirect(location, 301);
}
