import { NotFoundError } from '../../lib/errors.js';
import { METRICS_CONTENT_TYPE } from '../../lib/metrics.js';
import type { TypedApp } from '../../plugins/schemas.js';
import type { ObservabilityService } from './service.js';

/**
 * /metrics (Prometheus, behind METRICS_TOKEN), /readyz (may this process get traffic) and the admin's
 * Errors page. /healthz, the liveness check, is the health feature's.
 */
export default async function observabilityRoutes(app: TypedApp, opts: { operations: ObservabilityService }) {
  const { operations } = opts;

  app.get('/metrics', { config: { public: true }, logLevel: 'warn' }, async (request, reply) => {
    // Off unless the operator set a token: the route answers as if it did not exist.
    if (!operations.metricsEnabled) throw new NotFoundError();
    if (!operations.authorizesMetrics(request.headers.authorization)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="metrics"')
        .type('text/plain; charset=utf-8')
        .send('The metrics need the token from METRICS_TOKEN, sent as "Authorization: Bearer <token>".\n');
    }
    return reply.header('content-type', METRICS_CONTENT_TYPE).header('cache-control', 'no-store').send(await operations.metrics());
  });

  app.get('/readyz', { config: { public: true }, logLevel: 'warn' }, async (_request, reply) => {
    const report = await operations.readiness();
    return reply
      .code(report.ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: report.ready ? 'ready' : 'not ready', ...report.checks });
  });

  app.get('/admin/errors', async (_request, reply) => {
    const { reports, jobFailures } = await operations.errorsPage();
    return reply.page('observability/errors', { title: 'Errors', reports, jobFailures });
  });
}
