import { createHash } from 'node:crypto';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, RateLimitedError, UnauthorizedError, ForbiddenError, ValidationError, BadRequestError } from '../../lib/errors.js';
import { statusOf } from '../../plugins/errors.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { hasScope, type ApiScope } from './keys.js';
import type { ApiService, AuthenticatedKey } from './service.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The API key of a /api/v1 request, once authenticated. */
    apiKey: AuthenticatedKey | null;
    /** A POST's Idempotency-Key and what it asked, when its answer is to be kept for retries. */
    idempotency: { key: string; fingerprint: string } | null;
  }
  interface FastifyContextConfig {
    /** The scope an API route needs. */
    scope?: ApiScope;
    /** Answered without a key (the OpenAPI document). */
    keyless?: boolean;
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  422: 'Validation failed',
  429: 'Too many requests',
  500: 'Internal error',
};

/** RFC 9457 problem details; `errors` names each field that failed, as a form would show it. */
function problem(reply: FastifyReply, status: number, code: string, detail: string, fields?: Record<string, string>) {
  return reply
    .code(status)
    .type('application/problem+json')
    .send({
      type: `https://gazette.dev/problems/${code}`,
      title: TITLES[status] ?? 'Error',
      status,
      detail,
      ...(fields ? { errors: Object.entries(fields).map(([field, message]) => ({ field, message })) } : {}),
    });
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  // "Token" is what Buttondown's clients send.
  const match = /^(?:Bearer|Token)\s+(\S+)$/i.exec(header.trim());
  return match?.[1];
}

/**
 * The /api/v1 scope: a Bearer key with the route's scope (no cookie ever counts, and no CSRF token is
 * needed since nothing ambient authenticates), a request budget per key, problem+json errors, ETags on
 * reads, and Idempotency-Key on POST.
 */
export function apiHooks(api: ApiService) {
  return (app: TypedApp) => {
    app.decorateRequest('apiKey', null);
    app.decorateRequest('idempotency', null);

    // The key is the API's only credential: the session guard and the CSRF check (both about cookies) stand aside.
    app.addHook('onRoute', (route) => {
      route.config = { ...(route.config ?? {}), public: true, csrf: false };
    });

    app.addHook('onRequest', async (request, reply) => {
      reply.header('cache-control', 'no-store');
      if (request.routeOptions.config?.keyless) return;
      const token = bearer(request);
      if (!token) throw new UnauthorizedError('Send an API key in the Authorization header: "Authorization: Bearer gz_…". Keys are made on the API page of the admin.');
      const key = await api.authenticate(token);
      if (!key) throw new UnauthorizedError('That API key is not valid, or it was revoked.');
      const wait = api.rateLimit(key.id);
      if (wait > 0) throw new RateLimitedError(wait, 'This key sent too many requests; wait and try again.');
      request.apiKey = key;
      const scope = request.routeOptions.config?.scope;
      if (scope && !hasScope(key.scopes, scope)) throw new ForbiddenError(`This key lacks the "${scope}" scope.`);
    });

    // A POST with an Idempotency-Key answers its first answer again, whatever happened in between.
    app.addHook('preHandler', async (request, reply) => {
      const idem = request.headers['idempotency-key'];
      if (request.method !== 'POST' || idem === undefined) return;
      if (typeof idem !== 'string' || idem.length < 1 || idem.length > 255) throw new BadRequestError({ 'Idempotency-Key': 'Use a key of 1 to 255 characters.' });
      // A file sent as the body (a CSV import) is hashed as it came; anything else as its parsed JSON.
      const body = Buffer.isBuffer(request.body) ? request.body : JSON.stringify(request.body ?? null);
      const fingerprint = createHash('sha256').update(`${request.method} ${request.url}\n`).update(body).digest('hex');
      const stored = await api.idempotent(request.apiKey!.id, idem);
      if (stored && stored.fingerprint !== fingerprint) throw new ValidationError({ 'Idempotency-Key': 'This key was used for another request.' }, 'This Idempotency-Key was used for another request.');
      if (stored) return reply.code(stored.status).header('idempotent-replayed', 'true').type(stored.status >= 400 ? 'application/problem+json' : 'application/json').send(stored.body);
      request.idempotency = { key: idem, fingerprint };
    });

    app.addHook('onSend', async (request, reply, payload) => {
      const idem = request.idempotency;
      if (idem && typeof payload === 'string' && reply.statusCode < 500) {
        await api.remember(request.apiKey!.id, idem.key, idem.fingerprint, reply.statusCode, payload);
      }
      if (request.method === 'GET' && reply.statusCode === 200 && typeof payload === 'string') {
        const etag = `"${createHash('sha256').update(payload).digest('base64url').slice(0, 27)}"`;
        reply.header('etag', etag);
        if (request.headers['if-none-match'] === etag) {
          reply.code(304);
          return '';
        }
      }
      return payload;
    });

    app.setErrorHandler(async (error: FastifyError | Error, request, reply) => {
      if (error instanceof DomainError) {
        if (error instanceof RateLimitedError) reply.header('retry-after', Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
        if (error instanceof UnauthorizedError) reply.header('www-authenticate', 'Bearer realm="gazette"');
        const fields = error instanceof ValidationError || error instanceof BadRequestError ? error.fields : undefined;
        return problem(reply, statusOf(error), error.code, error.message, fields);
      }
      const status = (error as FastifyError).statusCode;
      if (status !== undefined && status >= 400 && status < 500) return problem(reply, status, (error as FastifyError).code ?? 'bad_request', error.message);
      request.log.error({ err: error }, 'API request failed');
      return problem(reply, 500, 'internal_error', `Something went wrong on our side; quote this reference: ${request.id}.`);
    });

    app.setNotFoundHandler(async (_request, reply) => problem(reply, 404, 'not_found', 'There is no such API endpoint. See /api/v1/openapi.json.'));
  };
}
