import fastifyView from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { VIEWS_DIR } from '../lib/paths.js';


export interface PageOptions {
  status?: number;
  /** The partial to send alone when htmx asks for a fragment; defaults to the whole template. */
  fragment?: string;
  layout?: string;
}

declare module 'fastify' {
  interface FastifyReply {
    /** Full page normally; only the fragment for htmx requests. Always sets `Vary: HX-Request`. */
    page(template: string, data?: Record<string, unknown>, options?: PageOptions): Promise<FastifyReply>;
  }
}

/** The only place that reads htmx's request headers (htmx 2.x names). */
export function htmxRequest(request: FastifyRequest): { isHtmx: boolean; boosted: boolean } {
  // A history-restore request (Back after htmx navigation, with no cached page) needs the full page.
  const isHtmx = request.headers['hx-request'] === 'true' && request.headers['hx-history-restore-request'] !== 'true';
  return { isHtmx, boosted: isHtmx && request.headers['hx-boosted'] === 'true' };
}

/** Values every template may use: the signed-in user, the CSRF token and the current path. */
export type BaseLocals = { user?: unknown; csrfToken?: string; path: string; [key: string]: unknown };

export default fp<{ viewsDir?: string; cache?: boolean; locals?: (req: FastifyRequest) => Record<string, unknown> }>(
  async (app, opts) => {
    const dir = opts.viewsDir ?? VIEWS_DIR;
    // Auto-escaping is on: only `<%~` prints raw HTML, and only HTML we rendered or sanitised ourselves.
    const eta = new Eta({ views: dir, autoEscape: true, cache: opts.cache ?? true });
    await app.register(fastifyView, { engine: { eta }, root: dir, viewExt: 'eta', production: opts.cache ?? true });

    app.decorateReply('page', async function page(
      this: FastifyReply,
      template: string,
      data: Record<string, unknown> = {},
      options: PageOptions = {},
    ) {
      const request = this.request;
      const locals: BaseLocals = { path: request.url.split('?')[0] ?? '/', ...(opts.locals?.(request) ?? {}), ...data };
      const { isHtmx, boosted } = htmxRequest(request);
      let html: string;
      if (isHtmx && !boosted) {
        html = await app.view(options.fragment ?? template, locals);
      } else {
        const body = await app.view(template, locals);
        html = await app.view(options.layout ?? 'layouts/base', { ...locals, body });
      }
      return this.code(options.status ?? this.statusCode ?? 200)
        .header('vary', 'HX-Request')
        .type('text/html; charset=utf-8')
        .send(html);
    });
  },
  { name: 'gazette-views', dependencies: ['gazette-context'] },
);
