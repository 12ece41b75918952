import type { FastifyInstance } from 'fastify';

export default async function healthRoutes(app: FastifyInstance) {
  app.get('/healthz', { config: { public: true }, logLevel: 'warn' }, async (_request, reply) => {
    const ok = await app.ctx.pingDb();
    return reply
      .code(ok ? 200 : 503)
      .header('cache-control', 'no-store')
      .send(ok ? { status: 'ok', db: 'ok' } : { status: 'error', db: 'unreachable' });
  });
}
