import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { toBool } from '../../db/codec.js';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import { NotFoundError, ValidationError } from '../../lib/errors.js';
import { echoFields, parseForm } from '../../lib/forms.js';
import { pathId } from '../../lib/params.js';
import { queryFlag } from '../../lib/query.js';
import { DEFAULT_TIME_ZONE, timeZoneOptionsWith } from '../../lib/time-zones.js';
import { publicUrls } from '../../lib/urls.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { newsletterSchema, SLUG_PATTERN } from './schemas.js';
import type { NewsletterService } from './service.js';

function formValues(n: NewsletterRow): Record<string, string | boolean> {
  return {
    name: n.name,
    slug: n.slug,
    description: n.description,
    from_name: n.from_name,
    from_email: n.from_email,
    reply_to: n.reply_to ?? '',
    postal_address: n.postal_address,
    time_zone: n.time_zone,
    double_opt_in: toBool(n.double_opt_in),
    archive_public: toBool(n.archive_public),
    is_default: n.default_lock === 1,
    tracking_mode: n.tracking_mode,
  };
}

/** Checkboxes absent from a submitted form mean "off"; echo them back as such on a re-render. */
function echoNewsletterForm(body: unknown): Record<string, string | boolean> {
  const values: Record<string, string | boolean> = echoFields(body);
  for (const box of ['double_opt_in', 'archive_public', 'is_default']) values[box] = values[box] === 'on';
  return values;
}

const NO_NEWSLETTER = 'That newsletter does not exist.';
const newsletterParams = z.object({ id: pathId(NO_NEWSLETTER) });
const oldAddressParams = newsletterParams.extend({ slug: z.string().regex(SLUG_PATTERN, 'That is not an old address of this newsletter.') });

export default async function newsletterRoutes(app: TypedApp, opts: { newsletters: NewsletterService }) {
  const { newsletters } = opts;
  const urls = publicUrls(app.ctx.config.baseUrl);

  const formPage = async (reply: FastifyReply, data: { newsletter?: NewsletterRow; values: Record<string, unknown>; errors?: Record<string, string> }, status = 200) =>
    reply.page(
      'newsletters/form',
      {
        title: data.newsletter ? `Edit ${data.newsletter.name}` : 'New newsletter',
        newsletter: data.newsletter,
        values: data.values,
        errors: data.errors,
        zones: timeZoneOptionsWith(app.ctx.clock.now(), String(data.values.time_zone ?? DEFAULT_TIME_ZONE)),
        embed: data.newsletter ? embedSnippet(urls.subscribe(data.newsletter.slug), data.newsletter.name) : undefined,
        homeUrl: data.newsletter ? urls.home(data.newsletter.slug) : undefined,
        oldSlugs: data.newsletter ? (await newsletters.oldSlugs(data.newsletter.id)).map((slug) => ({ slug, url: urls.home(slug) })) : [],
      },
      { status },
    );

  app.get('/admin/newsletters', async (_request, reply) => {
    const rows = await newsletters.list();
    return reply.page('newsletters/index', {
      title: 'Newsletters',
      newsletters: rows.map((n) => ({ ...n, homeUrl: urls.home(n.slug), isDefault: n.default_lock === 1 })),
    });
  });

  app.get('/admin/newsletters/new', async (_request, reply) =>
    formPage(reply, { values: { double_opt_in: true, archive_public: true, time_zone: DEFAULT_TIME_ZONE, from_email: '' } }),
  );

  app.post('/admin/newsletters', async (request, reply) => {
    try {
      const id = await newsletters.create(parseForm(newsletterSchema, request.body));
      return reply.redirect(`/admin/newsletters/${id}?saved=1`, 303);
    } catch (err) {
      if (err instanceof ValidationError) return formPage(reply, { values: echoNewsletterForm(request.body), errors: err.fields }, 422);
      throw err;
    }
  });

  async function load(id: number): Promise<NewsletterRow> {
    const n = await newsletters.get(id);
    if (!n) throw new NotFoundError(NO_NEWSLETTER);
    return n;
  }

  app.get('/admin/newsletters/:id', { schema: { params: newsletterParams, querystring: z.object({ saved: queryFlag() }) } }, async (request, reply) => {
    const n = await load(request.params.id);
    return formPage(reply, { newsletter: n, values: { ...formValues(n), saved: request.query.saved } });
  });

  app.post('/admin/newsletters/:id/old-addresses/:slug/delete', { schema: { params: oldAddressParams } }, async (request, reply) => {
    const n = await load(request.params.id);
    await newsletters.forgetOldSlug(n.id, request.params.slug);
    return reply.redirect(`/admin/newsletters/${n.id}?saved=1`, 303);
  });

  app.post('/admin/newsletters/:id', { schema: { params: newsletterParams } }, async (request, reply) => {
    const n = await load(request.params.id);
    try {
      await newsletters.update(n.id, parseForm(newsletterSchema, request.body));
      return reply.redirect(`/admin/newsletters/${n.id}?saved=1`, 303);
    } catch (err) {
      if (err instanceof ValidationError) return formPage(reply, { newsletter: n, values: echoNewsletterForm(request.body), errors: err.fields }, 422);
      throw err;
    }
  });
}

/** Plain HTML another site can paste: works without any script, posts straight to our subscribe URL. */
export function embedSnippet(action: string, name: string): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return [
    `<form method="post" action="${esc(action)}" accept-charset="utf-8">`,
    `  <label for="gazette-email">Subscribe to ${esc(name)}</label>`,
    `  <input id="gazette-email" type="email" name="email" required placeholder="you@example.com" autocomplete="email">`,
    `  <input type="hidden" name="source" value="embed">`,
    `  <div style="position:absolute;left:-9999px" aria-hidden="true"><input type="text" name="website" tabindex="-1" autocomplete="off"></div>`,
    `  <button type="submit">Subscribe</button>`,
    `</form>`,
  ].join('\n');
}
