import type { FeedbackService } from '../feedback/service.js';
import type { StatsService } from '../stats/service.js';
import { dashboardQuery } from '../stats/routes.js';
import type { TypedApp } from '../../plugins/schemas.js';

/** `paid`: the paid plans' figures (src/features/billing); undefined when Stripe is not set up. */
type PaidFigures = (newsletterId: number | null) => Promise<unknown>;

export default async function dashboardRoutes(app: TypedApp, opts: { stats: StatsService; feedback: FeedbackService; paid?: PaidFigures }) {
  app.get('/admin', { schema: { querystring: dashboardQuery } }, async (request, reply) => {
    const stats = await opts.stats.dashboard(request.query.newsletter);
    return reply.page('dashboard/index', {
      title: 'Dashboard',
      head: '<link rel="stylesheet" href="/public/stats.css">',
      owner: request.user,
      mailKind: app.ctx.mailer.kind,
      baseUrl: app.ctx.config.baseUrl,
      stats,
      paid: await opts.paid?.(stats.newsletterId ?? null),
      deliverabilityWarnings: await opts.feedback.warnings(),
    });
  });
}
