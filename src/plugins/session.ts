import fastifyCookie from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { UserRow } from '../db/tables/users.js';
import { invalidateSession, validateSessionToken } from '../features/auth/sessions.js';
import { htmxRequest } from './views.js';

declare module 'fastify' {
  interface FastifyRequest {
    user: UserRow | null;
    sessionId: string | null;
  }
  interface FastifyReply {
    startSession(token: string, expiresAt: number): FastifyReply;
    /** Resolves to nothing: a Fastify reply is thenable, so awaiting one would wait for the response itself. */
    endSession(): Promise<void>;
  }
  interface FastifyContextConfig {
    /** Opt out of sign-in. Every route requires a signed-in user unless it says `public: true`. */
    public?: boolean;
    /** Opt out of CSRF checks (only token-authorised public endpoints such as RFC 8058 one-click). */
    csrf?: boolean;
  }
}

export default fp(
  async (app) => {
    const { db, clock, config } = app.ctx;
    // __Host- binds the cookie to this exact origin, but browsers only accept it with Secure (https).
    const cookieName = config.secureCookies ? '__Host-gazette_session' : 'gazette_session';
    const cookieOptions = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure: config.secureCookies };

    await app.register(fastifyCookie);
    app.decorateRequest('user', null);
    app.decorateRequest('sessionId', null);

    app.decorateReply('startSession', function (this: FastifyReply, token: string, expiresAt: number) {
      return this.setCookie(cookieName, token, { ...cookieOptions, expires: new Date(expiresAt) });
    });
    app.decorateReply('endSession', async function (this: FastifyReply) {
      if (this.request.sessionId) await invalidateSession(db, this.request.sessionId);
      this.request.user = null;
      this.request.sessionId = null;
      this.clearCookie(cookieName, cookieOptions);
    });

    app.addHook('onRequest', async (request, reply) => {
      const token = request.cookies[cookieName];
      if (!token) return;
      const session = await validateSessionToken(db, clock, token);
      if (!session) {
        reply.clearCookie(cookieName, cookieOptions);
        return;
      }
      request.user = session.user;
      request.sessionId = session.id;
      if (session.refreshed) reply.setCookie(cookieName, token, { ...cookieOptions, expires: new Date(session.expiresAt) });
    });

    // Sign-in is required by default: a route has to say `config: { public: true }` to be reachable anonymously.
    app.addHook('preHandler', async (request, reply) => {
      if (request.user || request.is404 || request.routeOptions.config?.public) return;
      return refuseAnonymous(request, reply);
    });
  },
  { name: 'gazette-session', dependencies: ['gazette-context'] },
);

function refuseAnonymous(request: FastifyRequest, reply: FastifyReply) {
  const login = `/login?next=${encodeURIComponent(request.url)}`;
  if (htmxRequest(request).isHtmx) return reply.code(401).header('hx-redirect', login).send();
  if (request.method === 'GET' && !wantsJson(request)) return reply.redirect(login, 303);
  return reply.code(401).send({ error: { code: 'unauthorized', message: 'Sign in first.' } });
}

export function wantsJson(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}
