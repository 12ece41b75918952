import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import fp from 'fastify-plugin';
import { PUBLIC_DIR } from '../lib/paths.js';

const require = createRequire(import.meta.url);
const HTMX_VERSION = (require('htmx.org/package.json') as { version: string }).version;
/** The URL carries the exact version, so the file can be cached forever and a new pin busts it. */
export const HTMX_URL = `/public/vendor/htmx-${HTMX_VERSION}.min.js`;
// The package exports no package.json: both the version and the browser file are found from its entry.
const ALTCHA_DIST = path.dirname(require.resolve('altcha'));
const ALTCHA_VERSION = (JSON.parse(readFileSync(path.join(ALTCHA_DIST, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
/** The ALTCHA widget (proof of work for sign-ups under attack), versioned like htmx. */
export const ALTCHA_URL = `/public/vendor/altcha-${ALTCHA_VERSION}.min.js`;

export default fp(
  async (app) => {
    const htmx = readFileSync(require.resolve('htmx.org/dist/htmx.min.js'));
    app.get(HTMX_URL, { config: { public: true } }, async (_request, reply) =>
      reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=31536000, immutable').send(htmx),
    );
    const altcha = readFileSync(path.join(ALTCHA_DIST, 'altcha.min.js'));
    app.get(ALTCHA_URL, { config: { public: true } }, async (_request, reply) =>
      reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=31536000, immutable').send(altcha),
    );
    // Static files are public like the pages that use them; @fastify/static takes no route config, so
    // an encapsulated child marks the routes it creates.
    await app.register(async (child) => {
      child.addHook('onRoute', (route) => {
        route.config = { ...(route.config as object), public: true };
      });
      await child.register(fastifyStatic, { root: PUBLIC_DIR, prefix: '/public/', maxAge: 3_600_000, decorateReply: false });
    });
  },
  { name: 'gazette-static', dependencies: ['gazette-session'] },
);
