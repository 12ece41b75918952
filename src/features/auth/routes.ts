import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { echoFields, parseForm } from '../../lib/forms.js';
import { NotFoundError, RateLimitedError, UnauthorizedError, ValidationError } from '../../lib/errors.js';
import { PASSWORD_MIN_LENGTH } from '../../lib/passwords.js';
import { queryFlag, queryText } from '../../lib/query.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { forgotPasswordSchema, loginSchema, resetPasswordSchema, setupSchema } from './schemas.js';
import { RESET_LINK_INVALID, type AuthService } from './service.js';

/**
 * Only same-site paths are followed after sign-in, so `next` can never become an open redirect. Control
 * characters are refused too: browsers drop tabs and newlines from URLs, so "/\t/evil.com" means "//evil.com".
 * The rest of printable ASCII goes out as it came; anything else is percent-encoded, because a Location
 * header carries Latin-1 at most (`/→` could not be sent at all) and a lone surrogate has no encoding
 * (such a `next` is dropped).
 */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string' || !/^\/(?![/\\])/.test(next) || /[\x00-\x1f\x7f]/.test(next)) return '/admin';
  try {
    return next.replace(/[^\x21-\x7e]+/g, (run) => encodeURIComponent(run));
  } catch {
    return '/admin';
  }
}

const loginQuery = z.object({ next: queryText, reset: queryFlag('done') });
const resetParams = z.object({ token: z.string() });

export default async function authRoutes(app: TypedApp, opts: { auth: AuthService }) {
  const { auth } = opts;
  const pub = { config: { public: true } };

  const setupPage = (reply: FastifyReply, values: Record<string, string>, errors: Record<string, string> | undefined, status = 200) =>
    reply.page('auth/setup', { title: 'Set up Gazette', values, errors, minPassword: PASSWORD_MIN_LENGTH }, { status });

  app.get('/setup', pub, async (_request, reply) => {
    if (!(await auth.needsSetup())) throw new NotFoundError();
    return setupPage(reply, {}, undefined);
  });

  app.post('/setup', pub, async (request, reply) => {
    if (!(await auth.needsSetup())) throw new NotFoundError();
    try {
      const input = parseForm(setupSchema, request.body);
      const session = await auth.setup(input);
      reply.startSession(session.token, session.expiresAt);
      return reply.redirect('/admin', 303);
    } catch (err) {
      if (err instanceof ValidationError) return setupPage(reply, echoFields(request.body), err.fields, 422);
      throw err;
    }
  });

  const loginPage = (reply: FastifyReply, data: { values?: Record<string, string>; errors?: Record<string, string>; message?: string; notice?: string; next?: string }, status = 200) =>
    reply.page('auth/login', { title: 'Sign in', values: data.values ?? {}, errors: data.errors, message: data.message, notice: data.notice, next: data.next }, { status });

  app.get('/login', { ...pub, schema: { querystring: loginQuery } }, async (request, reply) => {
    if (await auth.needsSetup()) return reply.redirect('/setup', 303);
    const { next, reset } = request.query;
    if (request.user) return reply.redirect(safeNext(next), 303);
    return loginPage(reply, { next, notice: reset ? 'Your password has been changed. Sign in with the new one.' : undefined });
  });

  app.post('/login', pub, async (request, reply) => {
    if (await auth.needsSetup()) return reply.redirect('/setup', 303);
    const values = echoFields(request.body);
    try {
      const input = parseForm(loginSchema, request.body);
      const session = await auth.login(input, request.ip);
      // A fresh session on every sign-in: a cookie planted before sign-in is worthless (fixation).
      if (request.sessionId) await reply.endSession();
      reply.startSession(session.token, session.expiresAt);
      return reply.redirect(safeNext(input.next), 303);
    } catch (err) {
      if (err instanceof ValidationError) return loginPage(reply, { values, errors: err.fields, next: values.next }, 422);
      if (err instanceof UnauthorizedError) return loginPage(reply, { values, message: err.message, next: values.next }, 401);
      if (err instanceof RateLimitedError) {
        reply.header('retry-after', Math.ceil(err.retryAfterMs / 1000));
        return loginPage(reply, { values, message: err.message, next: values.next }, 429);
      }
      throw err;
    }
  });

  const forgotPage = (reply: FastifyReply, data: { values?: Record<string, string>; errors?: Record<string, string>; message?: string }, status = 200) =>
    reply.page(
      'auth/forgot',
      { title: 'Reset your password', values: data.values ?? {}, errors: data.errors, message: data.message, devOutbox: app.ctx.mailer.kind === 'dev-outbox' },
      { status },
    );

  app.get('/forgot', pub, async (_request, reply) => {
    if (await auth.needsSetup()) return reply.redirect('/setup', 303);
    return forgotPage(reply, {});
  });

  app.post('/forgot', pub, async (request, reply) => {
    if (await auth.needsSetup()) return reply.redirect('/setup', 303);
    const values = echoFields(request.body);
    try {
      const input = parseForm(forgotPasswordSchema, request.body);
      await auth.requestPasswordReset(input.email, request.ip);
      // The same page whether or not the address has an account.
      return reply.page('auth/forgot-sent', { title: 'Check your inbox', email: input.email });
    } catch (err) {
      if (err instanceof ValidationError) return forgotPage(reply, { values, errors: err.fields }, 422);
      if (err instanceof RateLimitedError) {
        reply.header('retry-after', Math.ceil(err.retryAfterMs / 1000));
        return forgotPage(reply, { values, message: err.message }, 429);
      }
      throw err;
    }
  });

  const resetPage = (reply: FastifyReply, token: string, data: { valid: boolean; errors?: Record<string, string>; message?: string }, status = 200) => {
    // The token is in the address: no other site may see it in a Referer header.
    reply.header('referrer-policy', 'no-referrer');
    return reply.page(
      'auth/reset',
      { title: 'Choose a new password', action: `/reset/${encodeURIComponent(token)}`, minPassword: PASSWORD_MIN_LENGTH, invalidMessage: RESET_LINK_INVALID, ...data },
      { status },
    );
  };

  // Reading the link changes nothing (mail scanners follow links); only the form's POST uses it.
  app.get('/reset/:token', { ...pub, schema: { params: resetParams } }, async (request, reply) => {
    const { token } = request.params;
    return (await auth.canResetPassword(token)) ? resetPage(reply, token, { valid: true }) : resetPage(reply, token, { valid: false }, 404);
  });

  app.post('/reset/:token', { ...pub, schema: { params: resetParams } }, async (request, reply) => {
    const { token } = request.params;
    try {
      const input = parseForm(resetPasswordSchema, request.body);
      await auth.resetPassword(token, input.password, request.ip);
      // Every session of the user is gone; this browser's cookie goes too.
      if (request.sessionId) await reply.endSession();
      return reply.redirect('/login?reset=done', 303);
    } catch (err) {
      if (err instanceof ValidationError) return resetPage(reply, token, { valid: true, errors: err.fields }, 422);
      if (err instanceof NotFoundError) return resetPage(reply, token, { valid: false }, 404);
      if (err instanceof RateLimitedError) {
        reply.header('retry-after', Math.ceil(err.retryAfterMs / 1000));
        return resetPage(reply, token, { valid: true, message: err.message }, 429);
      }
      throw err;
    }
  });

  // Public so an expired session can still "sign out" without an error; CSRF's origin check still applies.
  app.post('/logout', pub, async (_request, reply) => {
    await reply.endSession();
    return reply.redirect('/login', 303);
  });
}
