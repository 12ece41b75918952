import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ForbiddenError } from '../lib/errors.js';
import { constantTimeEqual, hmacBase64Url } from '../lib/tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The token forms and htmx must send back with unsafe requests; null without a session. */
    csrfToken: string | null;
  }
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
export const CSRF_FIELD = '_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/**
 * Two independent checks on every unsafe request: the browser's own word about where the request came
 * from (Sec-Fetch-Site, else Origin), and for signed-in requests a per-session token (an HMAC of the
 * session id) carried by forms and by htmx. Token-authorised public endpoints opt out with `csrf: false`.
 */
export default fp(
  async (app) => {
    const { secretKey, config } = app.ctx;
    const baseOrigin = new URL(config.baseUrl).origin;
    const tokenFor = (sessionId: string) => hmacBase64Url(secretKey, `csrf:${sessionId}`);

    app.decorateRequest('csrfToken', null);
    app.addHook('preHandler', async (request) => {
      if (request.sessionId) request.csrfToken = tokenFor(request.sessionId);
      if (SAFE.has(request.method) || request.routeOptions.config?.csrf === false || request.is404) return;

      const site = request.headers['sec-fetch-site'];
      if (site !== undefined && site !== 'same-origin') throw new ForbiddenError('This form was sent from another site and was refused.');
      const origin = request.headers.origin;
      if (origin !== undefined && origin !== baseOrigin && origin !== `${request.protocol}://${request.host}`) {
        throw new ForbiddenError('This form was sent from another site and was refused.');
      }
      if (request.csrfToken && !constantTimeEqual(submittedToken(request), request.csrfToken)) {
        throw new ForbiddenError('This form has expired. Go back, reload the page and try again.');
      }
    });
  },
  { name: 'gazette-csrf', dependencies: ['gazette-context', 'gazette-session'] },
);

function submittedToken(request: FastifyRequest): string {
  const header = request.headers[CSRF_HEADER];
  if (typeof header === 'string') return header;
  const body = request.body as Record<string, unknown> | undefined;
  if (body && typeof body === 'object' && typeof body[CSRF_FIELD] === 'string') return body[CSRF_FIELD];
  // Multipart uploads are parsed by their handler, after this check: their forms carry it in the query.
  const query = request.query as Record<string, unknown> | undefined;
  if (query && typeof query[CSRF_FIELD] === 'string') return query[CSRF_FIELD];
  return '';
}
