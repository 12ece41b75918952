import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ValidationError } from '../../lib/errors.js';
import { parseForm } from '../../lib/forms.js';
import { PASSWORD_MIN_LENGTH } from '../../lib/passwords.js';
import { queryFlag } from '../../lib/query.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { changePasswordSchema } from '../auth/schemas.js';
import type { AuthService } from '../auth/service.js';
import type { SettingsService } from './service.js';

export default async function settingsRoutes(app: TypedApp, opts: { auth: AuthService; settings: SettingsService }) {
  const { settings } = opts;

  const settingsPage = (request: FastifyRequest, reply: FastifyReply, extra: Record<string, unknown> = {}, status = 200) =>
    reply.page(
      'settings/page',
      { title: 'Settings', ...settings.describe(), minPassword: PASSWORD_MIN_LENGTH, owner: request.user, ...extra },
      { status, fragment: typeof extra.fragment === 'string' ? extra.fragment : undefined },
    );

  app.get('/admin/settings', { schema: { querystring: z.object({ saved: queryFlag('password') }) } }, async (request, reply) => {
    return settingsPage(request, reply, { passwordChanged: request.query.saved });
  });

  app.post('/admin/settings/password', async (request, reply) => {
    try {
      const input = parseForm(changePasswordSchema, request.body);
      const session = await opts.auth.changePassword(request.user!, input.current_password, input.new_password);
      reply.startSession(session.token, session.expiresAt);
      return reply.redirect('/admin/settings?saved=password', 303);
    } catch (err) {
      if (err instanceof ValidationError) return settingsPage(request, reply, { passwordErrors: err.fields }, 422);
      throw err;
    }
  });

  app.post('/admin/settings/test-email', async (request, reply) => {
    const result = await settings.sendTestEmail(request.user!.email);
    return settingsPage(request, reply, { testResult: result, fragment: 'settings/_test-result' });
  });
}
