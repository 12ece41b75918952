import type { FeedbackService } from '../feedback/service.js';
import type { StatsService } from '../stats/service.js';
import { dashboardQuery } from '../stats/routes.js';
import type { TypedApp } from '../../plugins/schemas.js';

export default async function dashboardRoutes(app: TypedApp, opts: { stats: StatsService; feedback: FeedbackService }) {
  app.get('/admin', { schema: { querystring: dashboardQuery } }, async (request, reply) =>
    reply.page('dashboard/index', {
      title: 'Dashboard',
      head: '<link rel="stylesheet" href="/public/stats.css">',
      owner: request.user,
      mailKind: app.ctx.mailer.kind,
      baseUrl: app.ctx.config.baseUrl,
      stats: await opts.stats.dashboard(request.query.newsletter),
      deliverabilityWarnings: await opts.feedback.warnings(),
    }),
  );
}
