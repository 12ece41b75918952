import { z } from 'zod';
import type { TypedApp } from '../../plugins/schemas.js';
import type { HitRequest, TrackingService } from './service.js';

/** The transparent 1×1 GIF (43 bytes) every open answers with. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');

const clickParams = z.object({ token: z.string().max(200, 'That link is not valid.') });
// The pixel answers whatever follows /o/, so it cannot be used to tell good tokens from bad.
const openParams = z.object({ file: z.string() });

/**
 * Open and click tracking URLs, public and cookie-less. Neither is cached anywhere (each fetch is a hit),
 * and neither tells a search engine anything.
 */
export default async function trackingRoutes(app: TypedApp, opts: { tracking: TrackingService }) {
  const { tracking } = opts;
  const pub = { public: true, csrf: false };
  const facts = (request: { method: string; headers: Record<string, unknown>; ip: string }): HitRequest => ({
    method: request.method,
    userAgent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'] : '',
    ip: request.ip,
  });

  app.get('/c/:token', { config: pub, schema: { params: clickParams } }, async (request, reply) => {
    const target = await tracking.click(request.params.token, facts(request));
    reply.header('cache-control', 'no-store').header('x-robots-tag', 'noindex').header('referrer-policy', 'no-referrer');
    if (!target) return reply.code(404).type('text/plain; charset=utf-8').send('This link is not valid.');
    return reply.redirect(target, 302);
  });

  app.get('/o/:file', { config: pub, schema: { params: openParams } }, async (request, reply) => {
    const file = request.params.file;
    if (file.endsWith('.gif')) await tracking.open(file.slice(0, -4), facts(request));
    return reply.header('cache-control', 'no-store, max-age=0').header('x-robots-tag', 'noindex').type('image/gif').send(PIXEL);
  });
}
