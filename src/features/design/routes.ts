import fastifyMultipart from '@fastify/multipart';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import { ValidationError } from '../../lib/errors.js';
import { echoFields, parseForm } from '../../lib/forms.js';
import { pathId } from '../../lib/params.js';
import { queryFlag } from '../../lib/query.js';
import { publicUrls } from '../../lib/urls.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { LOGO_MAX_BYTES, LogoError, sniffImage } from './logo.js';
import { pageDesign } from './page-design.js';
import { designSchema, type DesignInput } from './schemas.js';
import type { DesignPreview, DesignService, RemovedCss } from './service.js';
import { FONTS, PALETTES, THEMES } from './themes.js';

const params = z.object({ id: pathId('That newsletter does not exist.') });
const fileParams = z.object({ file: z.string().max(80) });
const LOGO_CACHE = 'public, max-age=31536000, immutable';

function savedDesign(n: NewsletterRow): DesignInput {
  return {
    theme: n.theme as DesignInput['theme'],
    accent_color: n.accent_color,
    palette: n.palette as DesignInput['palette'],
    font: n.font as DesignInput['font'],
    footer_text: n.footer_text,
    web_css: n.web_css,
    email_css: n.email_css,
  };
}

interface PageState {
  values: Record<string, unknown>;
  errors?: Record<string, string> | undefined;
  removed?: RemovedCss | undefined;
  logoError?: string | undefined;
  saved?: boolean | undefined;
}

/**
 * The Design page of a newsletter: theme, colours, font, footer, custom CSS and logo, with a live preview
 * of the last post as a web page and as an email. The preview is re-rendered by htmx on every change, and
 * by the "Preview" button without JavaScript; nothing is saved until "Save".
 */
export default async function designRoutes(app: TypedApp, opts: { design: DesignService }) {
  const { design } = opts;
  const urls = publicUrls(app.ctx.config.baseUrl);
  const base = (n: NewsletterRow) => `/admin/newsletters/${n.id}/design`;

  /** The archive page as readers would see it with this design, for the preview's web frame. */
  async function webPreview(n: NewsletterRow, p: DesignPreview, values: DesignInput): Promise<string> {
    const data = {
      newsletter: n,
      subject: p.subject,
      bodyHtml: p.bodyHtml,
      title: p.subject,
      siteName: n.name,
      description: '',
      canonicalUrl: urls.home(n.slug),
      homeUrl: urls.home(n.slug),
      subscribeUrl: urls.subscribe(n.slug),
      indexable: false,
      published: 'Preview',
      publishedIso: new Date(app.ctx.clock.now()).toISOString(),
      // Absolute logo URLs, as in a mail: the preview does not depend on the address of the page framing it.
      design: pageDesign({ ...n, ...values, web_css: p.brand.webCss }, urls.home(n.slug), app.ctx.config.baseUrl),
    };
    const body = await app.view('archive/post', data);
    return app.view('archive/layout', { ...data, body });
  }

  async function render(reply: FastifyReply, n: NewsletterRow, state: PageState, status = 200) {
    const parsed = designSchema.safeParse(state.values);
    const values = parsed.success ? parsed.data : savedDesign(n);
    const preview = await design.preview(n, values);
    return reply.page(
      'design/page',
      {
        title: `Design of ${n.name}`,
        newsletter: n,
        action: base(n),
        themes: THEMES,
        palettes: PALETTES,
        fonts: FONTS,
        maxMegabytes: LOGO_MAX_BYTES / 1024 / 1024,
        logoUrl: n.logo_file ? `/brand/${n.logo_file}` : undefined,
        preview,
        webHtml: await webPreview(n, preview, { ...values, web_css: preview.brand.webCss }),
        removed: state.removed ?? preview.removed,
        ...state,
      },
      { status, fragment: 'design/_preview' },
    );
  }

  app.get('/admin/newsletters/:id/design', { schema: { params, querystring: z.object({ saved: queryFlag() }) } }, async (request, reply) => {
    const n = await design.newsletter(request.params.id);
    return render(reply, n, { values: savedDesign(n), saved: request.query.saved });
  });

  app.post('/admin/newsletters/:id/design/preview', { schema: { params } }, async (request, reply) => {
    const n = await design.newsletter(request.params.id);
    const values = echoFields(request.body);
    try {
      parseForm(designSchema, values);
      return await render(reply, n, { values });
    } catch (err) {
      if (err instanceof ValidationError) return render(reply, n, { values, errors: err.fields }, 422);
      throw err;
    }
  });

  app.post('/admin/newsletters/:id/design', { schema: { params } }, async (request, reply) => {
    const n = await design.newsletter(request.params.id);
    const values = echoFields(request.body);
    try {
      const removed = await design.save(n.id, parseForm(designSchema, values));
      if (removed.web_css.length === 0 && removed.email_css.length === 0) return reply.redirect(`${base(n)}?saved=1`, 303);
      // Saved, but the writer must see what their CSS lost: the page says so instead of a bare redirect.
      return render(reply, await design.newsletter(n.id), { values, removed, saved: true });
    } catch (err) {
      if (err instanceof ValidationError) return render(reply, n, { values, errors: err.fields }, 422);
      throw err;
    }
  });

  app.post('/admin/newsletters/:id/logo/delete', { schema: { params } }, async (request, reply) => {
    const n = await design.newsletter(request.params.id);
    await design.removeLogo(n.id);
    return reply.redirect(`${base(n)}?saved=1`, 303);
  });

  await app.register(async (scope: TypedApp) => {
    await scope.register(fastifyMultipart, { limits: { fileSize: LOGO_MAX_BYTES, files: 1, fields: 4, fieldSize: 1024, parts: 5 } });
    scope.post('/admin/newsletters/:id/logo', { schema: { params } }, async (request, reply) => {
      const n = await design.newsletter(request.params.id);
      const refuse = (message: string, status: number) => render(reply, n, { values: savedDesign(n), logoError: message }, status);
      let bytes: Buffer | undefined;
      try {
        const file = request.isMultipart() ? await request.file() : undefined;
        if (file?.fieldname === 'logo') bytes = await file.toBuffer();
        else file?.file.resume();
      } catch (err) {
        // Until the body is read, an error is the upload's own: no boundary, a body cut short, too large.
        if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') return refuse(`The image is larger than ${LOGO_MAX_BYTES / 1024 / 1024} MB.`, 413);
        return refuse('The upload could not be read. Choose the file again and retry.', 400);
      }
      if (!bytes) return refuse('Choose an image file to upload.', 400);
      try {
        await design.uploadLogo(n.id, bytes);
      } catch (err) {
        if (err instanceof LogoError) return refuse(err.message, 422);
        throw err;
      }
      return reply.redirect(`${base(n)}?saved=1`, 303);
    });
  });

  // Logos are named by their content: the same URL always has the same bytes, so caches may keep them for good.
  app.get('/brand/:file', { config: { public: true }, schema: { params: fileParams } }, async (request, reply) => {
    const bytes = await design.readFile(request.params.file);
    if (!bytes || sniffImage(bytes) !== 'png') return reply.code(404).type('text/plain; charset=utf-8').send('Not found.\n');
    return reply.type('image/png').header('cache-control', LOGO_CACHE).header('x-content-type-options', 'nosniff').send(bytes);
  });
}
