import type { FastifyInstance } from 'fastify';

export default async function dashboardRoutes(app: FastifyInstance) {
  app.get('/admin', async (request, reply) =>
    reply.page('dashboard/index', {
      title: 'Dashboard',
      owner: request.user,
      mailKind: app.ctx.mailer.kind,
      baseUrl: app.ctx.config.baseUrl,
    }),
  );
}
