import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import {
  BadRequestError,
  ConflictError,
  DomainError,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  UnauthorizedError,
  ValidationError,
} from '../lib/errors.js';
import { wantsJson } from './session.js';

export function statusOf(err: DomainError): number {
  if (err instanceof ValidationError) return 422;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError) return 409;
  if (err instanceof ForbiddenError) return 403;
  if (err instanceof UnauthorizedError) return 401;
  if (err instanceof RateLimitedError) return 429;
  return 400;
}

const TITLES: Record<number, string> = {
  400: 'That request could not be understood',
  401: 'Please sign in',
  403: 'Not allowed',
  404: 'Page not found',
  405: 'Not allowed',
  409: 'That conflicts with something else',
  413: 'That upload is too large',
  415: 'Unsupported content type',
  422: 'Some fields need attention',
  429: 'Too many requests',
};

/**
 * One place turns errors into responses. 4xx explain themselves (as a page, or JSON when asked);
 * 5xx show a generic page with the request id, and the details go to the log only.
 */
export default fp(
  async (app) => {
    async function respond(request: FastifyRequest, reply: FastifyReply, status: number, code: string, message: string, fields?: Record<string, string>) {
      reply.code(status);
      // A client that sent JSON reads JSON back, even without an Accept header saying so.
      const sentJson = request.headers['content-type']?.startsWith('application/json') === true;
      if (wantsJson(request) || sentJson || request.url.startsWith('/api/')) {
        return reply.send({ error: { code, message, ...(fields ? { fields } : {}), ...(status >= 500 ? { requestId: request.id } : {}) } });
      }
      return reply.page('errors/error', {
        title: TITLES[status] ?? (status >= 500 ? 'Something went wrong' : 'Error'),
        status,
        message,
        fields,
        requestId: request.id,
      }, { status });
    }

    app.setErrorHandler(async (error: FastifyError | Error, request, reply) => {
      if (error instanceof DomainError) {
        if (error instanceof RateLimitedError) reply.header('retry-after', Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
        const fields = error instanceof ValidationError || error instanceof BadRequestError ? error.fields : undefined;
        return respond(request, reply, statusOf(error), error.code, error.message, fields);
      }
      const status = (error as FastifyError).statusCode;
      if (status !== undefined && status >= 400 && status < 500) {
        // Fastify's own client errors (bad JSON, body too large, schema validation): safe to explain.
        return respond(request, reply, status, (error as FastifyError).code ?? 'bad_request', error.message);
      }
      request.log.error({ err: error }, 'request failed');
      return respond(request, reply, 500, 'internal_error', `Something went wrong on our side. If it keeps happening, quote this reference: ${request.id}.`);
    });

    app.setNotFoundHandler(async (request, reply) =>
      respond(request, reply, 404, 'not_found', 'There is nothing at this address. It may have moved, or the link may be incomplete.'),
    );
  },
  { name: 'gazette-errors', dependencies: ['gazette-views', 'gazette-session'] },
);
