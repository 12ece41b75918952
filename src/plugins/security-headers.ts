import fp from 'fastify-plugin';

// Scripts only from our origin (htmx is served from here); inline styles are allowed because email
// previews and sanitised post HTML carry them. No plugins, no <base>, never framed by other sites.
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' https: data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

export default fp(
  async (app) => {
    const https = app.ctx.config.secureCookies;
    app.addHook('onSend', async (request, reply) => {
      reply.header('x-content-type-options', 'nosniff');
      if (!reply.hasHeader('referrer-policy')) reply.header('referrer-policy', 'same-origin');
      if (https) reply.header('strict-transport-security', 'max-age=31536000');
      const type = String(reply.getHeader('content-type') ?? '');
      if (type.startsWith('text/html') && !reply.hasHeader('content-security-policy')) {
        reply.header('content-security-policy', CSP);
      }
      // Signed-in pages and anything reached through a personal token must not sit in shared caches.
      // An immutable answer (a content-addressed file) is the same for everyone, whoever asks.
      const immutable = String(reply.getHeader('cache-control') ?? '').includes('immutable');
      if (!immutable && (request.user || request.routeOptions.config?.csrf === false || request.url.startsWith('/admin'))) {
        reply.header('cache-control', 'no-store');
      }
    });
  },
  { name: 'gazette-security-headers', dependencies: ['gazette-context', 'gazette-session'] },
);
