import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Observability } from '../features/observability/observability.js';
import { markRequestLogger } from '../lib/logging.js';
import { runInRequest, type RequestContext } from '../lib/request-context.js';

/**
 * Watches every request: its id follows the work it starts (lib/request-context.ts, so every log line
 * of the request carries it), its route, status and duration are counted, and a 5xx answer caused by an
 * error is reported (error_reports, and Sentry when configured) with the request id and route template.
 */

/** The route template a request matched; unknown URLs collapse into one label value. */
export function routeLabel(request: FastifyRequest): string {
  return request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched');
}

export default fp<{ observability: Observability }>(
  async (app, { observability }) => {
    const contexts = new WeakMap<FastifyRequest, RequestContext>();
    const failures = new WeakMap<FastifyRequest, Error>();

    app.addHook('onRequest', (request, _reply, done) => {
      markRequestLogger(request.log);
      const context = { requestId: request.id };
      contexts.set(request, context);
      runInRequest(context, done);
    });
    // Reading the body leaves the request's async context (its data events come from the socket): enter it again.
    app.addHook('preValidation', (request, _reply, done) => {
      const context = contexts.get(request);
      if (context) runInRequest(context, done);
      else done();
    });

    app.addHook('onError', async (request, _reply, error) => {
      failures.set(request, error);
    });

    app.addHook('onResponse', async (request, reply) => {
      const route = routeLabel(request);
      observability.telemetry.request(route, request.method, reply.statusCode, reply.elapsedTime / 1000);
      const error = failures.get(request);
      if (error && reply.statusCode >= 500) {
        observability.errors.report(error, { source: 'request', requestId: request.id, method: request.method, route, status: reply.statusCode });
      }
    });
  },
  { name: 'gazette-observability' },
);
