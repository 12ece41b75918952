import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ValidationError } from '../../lib/errors.js';
import { echoFields, fieldsOf } from '../../lib/forms.js';
import { idField } from '../../lib/params.js';
import { queryFlag } from '../../lib/query.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { DISPOSABLE_LIST_SIZE, DISPOSABLE_LIST_VERSION } from '../validation/disposable.js';
import { describeOverview } from './overview.js';
import { CHALLENGE_PATH, type ProtectionService } from './service.js';
import { settingsSchema } from './settings.js';

const heldParams = z.object({ id: idField('There is no held sign-up with that number.') });

export default async function protectionRoutes(
  app: TypedApp,
  opts: { protection: ProtectionService; admit: Parameters<ProtectionService['approve']>[1] },
) {
  const { protection } = opts;
  const { config } = app.ctx;

  async function page(reply: FastifyReply, extra: Record<string, unknown> = {}, status = 200) {
    const overview = await protection.overview();
    return reply.page(
      'protection/page',
      {
        title: 'Signup protection',
        ...describeOverview(overview),
        settings: overview.settings,
        held: overview.held,
        flagged: overview.flagged,
        listVersion: `${DISPOSABLE_LIST_VERSION} (${DISPOSABLE_LIST_SIZE.toLocaleString('en')} domains)`,
        envAllowed: config.signup.allowedDomains,
        envBlocked: config.subscribeBlockedDomains,
        captcha: config.signup.captcha?.provider,
        dnsCheck: config.signup.dnsCheck,
        threshold: config.signup.attackThresholdPerMinute,
        ...extra,
      },
      { status },
    );
  }

  app.get('/admin/protection', { schema: { querystring: z.object({ saved: queryFlag('1'), approved: queryFlag('1') }) } }, async (request, reply) =>
    page(reply, { saved: request.query.saved, approved: request.query.approved }),
  );

  app.post('/admin/protection/settings', async (request, reply) => {
    const parsed = settingsSchema.safeParse(request.body ?? {});
    if (!parsed.success) {
      const echoed = echoFields(request.body);
      return page(reply, { errors: fieldsOf(parsed.error), values: { allowed_domains: echoed.allowed_domains ?? '', blocked_domains: echoed.blocked_domains ?? '' } }, 422);
    }
    const v = parsed.data;
    await protection.saveSettings({ challenge: v.challenge, disposable: v.disposable, allowedDomains: v.allowed_domains, blockedDomains: v.blocked_domains });
    return reply.redirect('/admin/protection?saved=1', 303);
  });

  app.post('/admin/protection/held/:id/approve', { schema: { params: heldParams } }, async (request, reply) => {
    try {
      await protection.approve(request.params.id, opts.admit);
    } catch (err) {
      if (err instanceof ValidationError) return page(reply, { errors: err.fields }, 422);
      throw err;
    }
    return reply.redirect('/admin/protection?approved=1', 303);
  });

  // The widget fetches a fresh challenge here; it is public and never cached (each one is single-use).
  app.get(CHALLENGE_PATH, { config: { public: true, csrf: false } }, async (_request, reply) =>
    reply.header('cache-control', 'no-store').type('application/json; charset=utf-8').send(await protection.issueChallenge()),
  );
}
