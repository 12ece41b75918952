import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ValidationError } from '../../lib/errors.js';
import { echoFields, parseForm } from '../../lib/forms.js';
import { pathId } from '../../lib/params.js';
import { queryFlag } from '../../lib/query.js';
import type { TypedApp } from '../../plugins/schemas.js';
import type { WelcomeText } from './mail.js';
import { welcomeSchema, type WelcomeService } from './service.js';

const HEAD = '<link rel="stylesheet" href="/public/posts.css">\n  <script src="/public/posts.js" defer></script>';
const params = z.object({ id: pathId('That newsletter does not exist.') });

/** A newsletter's welcome mail: one page to write it, switch it on and preview it, like the post editor. */
export default async function welcomeRoutes(app: TypedApp, opts: { welcome: WelcomeService }) {
  const { welcome } = opts;

  async function page(request: FastifyRequest, reply: FastifyReply, id: number, extra: { text?: WelcomeText; enabled?: boolean; errors?: Record<string, string>; saved?: boolean } = {}, status = 200) {
    const loaded = await welcome.load(id);
    const text = extra.text ?? loaded.text;
    const review = await welcome.preview(loaded.newsletter, text, request.user!);
    return reply.page(
      'welcome/edit',
      { title: `Welcome email · ${loaded.newsletter.name}`, head: HEAD, newsletter: loaded.newsletter, enabled: extra.enabled ?? loaded.enabled, values: text, sent: loaded.sent, review, errors: extra.errors, saved: extra.saved },
      { status },
    );
  }

  app.get('/admin/newsletters/:id/welcome', { schema: { params, querystring: z.object({ saved: queryFlag() }) } }, async (request, reply) =>
    page(request, reply, request.params.id, { saved: request.query.saved }),
  );

  app.post('/admin/newsletters/:id/welcome', { schema: { params } }, async (request, reply) => {
    const { id } = request.params;
    try {
      await welcome.save(id, parseForm(welcomeSchema, request.body));
      return reply.redirect(`/admin/newsletters/${id}/welcome?saved=1`, 303);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const echoed = echoFields(request.body);
      return page(request, reply, id, { text: { subject: echoed.subject ?? '', body: echoed.body ?? '' }, enabled: echoed.enabled !== undefined, errors: err.fields }, 422);
    }
  });

  // The live preview while typing (htmx): the same pane as the post editor's, for the unsaved text.
  app.post('/admin/newsletters/:id/welcome/preview', { schema: { params } }, async (request, reply) => {
    const loaded = await welcome.load(request.params.id);
    const echoed = echoFields(request.body);
    const text = { subject: (echoed.subject ?? '').slice(0, 200), body: (echoed.body ?? '').slice(0, 200_000) };
    const review = await welcome.preview(loaded.newsletter, text, request.user!);
    return reply.page('welcome/_preview', { review }, { fragment: 'welcome/_preview' });
  });
}
