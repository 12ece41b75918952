import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import { NotFoundError, RateLimitedError, ValidationError } from '../../lib/errors.js';
import { echoFields, parseForm } from '../../lib/forms.js';
import { publicUrls } from '../../lib/urls.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { wantsJson } from '../../plugins/session.js';
import type { AuthService } from '../auth/service.js';
import { pageDesign, type PageDesign } from '../design/page-design.js';
import { movedLocation, redirectMoved } from '../newsletters/moved.js';
import { SLUG_PATTERN } from '../newsletters/schemas.js';
import { AddressError, ChallengeError } from '../protection/service.js';
import { preferencesSchema, subscribeSchema } from './schemas.js';
import { answerHeld, formChoices, screeningForm, screeningJson, withChallenge, type HomeExtra } from './screening-answers.js';
import type { ReaderService } from './service.js';

const slugParams = z.object({ slug: z.string().regex(SLUG_PATTERN, 'There is no newsletter at this address.') });
const tokenParams = z.object({ token: z.string() });
/** `?n=` names the newsletter an unsubscribe link is about; anything longer than a slug names none. */
const unsubscribeQuery = z.object({ n: z.unknown().optional().transform((n) => (typeof n === 'string' && n.length <= 60 ? n : undefined)) });

/** RFC 8058: the mail client posts `List-Unsubscribe=One-Click`; any other body is a person's form. */
function saysOneClick(body: unknown): boolean {
  return typeof body === 'object' && body !== null && 'List-Unsubscribe' in body && body['List-Unsubscribe'] === 'One-Click';
}

/**
 * The reader-facing pages. All public; none has cookie authority (they act on an unguessable token in the
 * URL, or on a new address), so none takes part in CSRF checks: the subscribe form is meant to be posted
 * from other sites, and RFC 8058 one-click must work without cookies or tokens.
 */
export default async function readerRoutes(app: TypedApp, opts: { readers: ReaderService; auth: AuthService; paid?: PaidPlansView }) {
  // One-click unsubscribe must accept any body (empty, urlencoded, multipart); none of them carries
  // anything we need, so such bodies are read and dropped. An empty JSON body is an empty object.
  app.addContentTypeParser('multipart/form-data', (_request, payload, done) => {
    payload.resume();
    payload.on('end', () => done(null, {}));
    payload.on('error', done);
  });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_request, body, done) => {
    if (String(body).trim() === '') return done(null, {});
    try {
      done(null, JSON.parse(String(body)));
    } catch {
      done(Object.assign(new Error('The request body is not valid JSON.'), { statusCode: 400 }), undefined);
    }
  });

  const { config } = app.ctx;
  const baseOrigin = new URL(config.baseUrl).origin;
  const shared: ReaderRouteContext = {
    ...opts,
    urls: publicUrls(config.baseUrl),
    pub: { config: { public: true, csrf: false } },
    /** The browser says the form came from one of our own pages (embeds post cross-site). */
    sameOrigin: (request) => {
      const site = request.headers['sec-fetch-site'];
      if (site !== undefined) return site === 'same-origin';
      const origin = request.headers.origin;
      return origin === baseOrigin || origin === `${request.protocol}://${request.host}`;
    },
  };
  homeRoutes(app, shared);
  tokenRoutes(app, shared);
}

/** The look of the newsletter at `slug` for a page reached through a reader's link; none when unknown. */
async function designAt(c: ReaderRouteContext, slug: string | undefined): Promise<PageDesign | undefined> {
  const found = slug ? await c.readers.newsletterAt(slug) : undefined;
  return found ? pageDesign(found.newsletter, c.urls.home(found.newsletter.slug)) : undefined;
}

/** What the reader pages show of paid plans (src/features/billing): nothing when Stripe is not set up. */
export interface PaidPlansView {
  offer(newsletterId: number): Promise<unknown>;
  panel(subscriberId: number, token: string): Promise<unknown[]>;
}

interface ReaderRouteContext {
  readers: ReaderService;
  auth: AuthService;
  paid?: PaidPlansView;
  urls: ReturnType<typeof publicUrls>;
  pub: { config: { public: true; csrf: false } };
  sameOrigin(request: FastifyRequest): boolean;
}

/** A newsletter's home page and its subscribe form (hosted, embedded or JSON). */
function homeRoutes(app: TypedApp, c: ReaderRouteContext) {
  const { readers, auth, urls, pub, sameOrigin } = c;
  const { config } = app.ctx;

  /**
   * The newsletter at `slug`, or the one that had it before a rename (`moved`): embedded forms and old
   * links keep working. A value that is no slug at all fails `slugParams` and is not looked up.
   */
  async function newsletterOr404(slug: string): Promise<{ n: NewsletterRow; moved: boolean }> {
    const found = await readers.newsletterAt(slug);
    if (!found) throw new NotFoundError('There is no newsletter at this address.');
    return { n: found.newsletter, moved: found.moved };
  }

  async function homePage(reply: FastifyReply, n: NewsletterRow, extra: HomeExtra = {}, status = 200) {
    const posts = n.archive_public === 1 ? await readers.archive(n.id, 50) : [];
    return reply.page(
      'readers/home',
      {
        title: n.name,
        siteName: n.name,
        description: n.description || `Subscribe to ${n.name}.`,
        publicPage: true,
        design: pageDesign(n, urls.home(n.slug)),
        newsletter: n,
        posts: posts.map((p) => ({ ...p, url: urls.archivePost(n.slug, p.slug) })),
        feedUrl: n.archive_public === 1 ? urls.feed(n.slug) : undefined,
        paidOffer: await c.paid?.offer(n.id),
        // A form handed back after a press lets the next press through at once (see formToken).
        formToken: readers.formToken({ retry: status === 422 }),
        ...extra,
        values: extra.values ?? {},
        ...withChallenge(reply, await readers.signupChallenge()),
      },
      { status },
    );
  }

  app.get('/', pub, async (_request, reply) => {
    if (await auth.needsSetup()) return reply.redirect('/setup', 303);
    const n = await readers.defaultNewsletter();
    if (!n) throw new NotFoundError('This site has no newsletter yet.');
    return homePage(reply, n);
  });

  app.get('/n/:slug', { ...pub, schema: { params: slugParams } }, async (request, reply) => {
    const { n, moved } = await newsletterOr404(request.params.slug);
    if (moved) return redirectMoved(reply, movedLocation(config.baseUrl, request.url, n.slug));
    return homePage(reply, n);
  });

  // Answered in place under an old slug too: a redirect would make browsers post again (307/308) or
  // drop the form (301/302), and embeds on other sites keep the old address.
  app.post('/n/:slug/subscribe', { ...pub, schema: { params: slugParams } }, async (request, reply) => {
    const { n } = await newsletterOr404(request.params.slug);
    const json = wantsJson(request) || request.headers['content-type']?.startsWith('application/json') === true;
    const echoed = echoFields(request.body);
    const values = { email: echoed.email ?? '', name: echoed.name ?? '' };
    try {
      const input = parseForm(subscribeSchema, request.body);
      const choice = formChoices(input);
      const outcome = await readers.subscribe(n, {
        ...choice,
        name: input.name,
        honeypot: input.website,
        formToken: input.t,
        fromHostedPage: !json && input.source !== 'embed' && sameOrigin(request),
        source: json ? 'api' : (input.source ?? 'form'),
        ip: request.ip,
        trackingConsent: input.tracking_consent,
      });
      if (outcome === 'held') return answerHeld(reply, n, json, urls.home(n.slug));
      // Every outcome, including "already subscribed" and ignored bots, gets the same answer for this
      // newsletter's opt-in mode: the response never reveals whether an address is on the list.
      const pending = n.double_opt_in === 1;
      const message = pending
        ? `Almost done: we sent a confirmation link to ${choice.email}. Open it to start receiving ${n.name}.`
        : `You are subscribed to ${n.name}.`;
      if (json) return reply.code(200).send({ ok: true, status: pending ? 'pending' : 'subscribed', message });
      return reply.page('readers/message', { title: pending ? 'Check your inbox' : 'Subscribed', publicPage: true, design: pageDesign(n, urls.home(n.slug)), newsletter: n, heading: pending ? 'Check your inbox' : 'Thank you!', message, homeUrl: urls.home(n.slug) });
    } catch (err) {
      if (err instanceof AddressError || err instanceof ChallengeError) {
        if (json) return reply.code(422).send(screeningJson(err));
        return homePage(reply, n, { values, ...screeningForm(err, values.email, echoed.source) }, 422);
      }
      if (err instanceof ValidationError) {
        if (json) return reply.code(422).send({ error: { code: err.code, message: err.message, fields: err.fields } });
        // The form token has no field of its own: its message heads the form.
        if (err.fields.t) return homePage(reply, n, { values, message: err.fields.t }, 422);
        return homePage(reply, n, { values, errors: err.fields }, 422);
      }
      if (err instanceof RateLimitedError) {
        reply.header('retry-after', Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
        if (json) return reply.code(429).send({ error: { code: err.code, message: err.message } });
        return reply.page('readers/message', { title: 'Too many requests', publicPage: true, design: pageDesign(n, urls.home(n.slug)), newsletter: n, heading: 'Please slow down', message: err.message, homeUrl: urls.home(n.slug) }, { status: 429 });
      }
      throw err;
    }
  });
}

/** What a reader does from a link in a mail: confirm, unsubscribe, preferences, their data. */
function tokenRoutes(app: TypedApp, c: ReaderRouteContext) {
  const { readers, urls, pub, paid } = c;
  const { config } = app.ctx;

  app.get('/confirm/:token', { ...pub, schema: { params: tokenParams } }, async (request, reply) => {
    const state = await readers.inspectConfirmation(request.params.token);
    return confirmPage(reply, state, state.state === 'unknown' ? 404 : 200);
  });

  app.post('/confirm/:token', { ...pub, schema: { params: tokenParams } }, async (request, reply) => {
    const state = await readers.confirm(request.params.token);
    return confirmPage(reply, state, state.state === 'unknown' ? 404 : 200);
  });

  async function confirmPage(reply: FastifyReply, state: Awaited<ReturnType<ReaderService['confirm']>>, status: number) {
    const newsletter = 'newsletter' in state ? state.newsletter : undefined;
    return reply.page(
      'readers/confirm',
      {
        title: 'Confirm your subscription',
        publicPage: true,
        design: await designAt(c, newsletter?.slug),
        state: state.state,
        newsletter,
        homeUrl: newsletter ? urls.home(newsletter.slug) : `${config.baseUrl}/`,
        preferencesUrl: 'preferencesUrl' in state ? state.preferencesUrl : undefined,
      },
      { status },
    );
  }

  const unsubscribeRoute = { ...pub, schema: { params: tokenParams, querystring: unsubscribeQuery } };

  app.get('/unsubscribe/:token', unsubscribeRoute, async (request, reply) => {
    const { token } = request.params;
    const view = await readers.preferences(token);
    if (!view) throw new NotFoundError('This unsubscribe link is not valid. It may be incomplete: try copying the whole link from the email.');
    const slug = request.query.n;
    const target = slug ? view.newsletters.find((n) => n.slug === slug) : undefined;
    reply.header('referrer-policy', 'no-referrer');
    return reply.page('readers/unsubscribe', {
      title: target ? `Unsubscribe from ${target.name}` : 'Unsubscribe',
      publicPage: true,
      design: await designAt(c, target?.slug ?? soleSlug(view.newsletters)),
      target,
      active: view.newsletters.filter((n) => n.status === 'active' || n.status === 'pending'),
      action: `/unsubscribe/${encodeURIComponent(token)}${target ? `?n=${encodeURIComponent(target.slug)}` : ''}`,
      preferencesUrl: urls.preferences(view.subscriber.token),
      // Unsubscribing stops mail, not payment: the page says so and links to cancelling.
      paidPlans: (await paid?.panel(view.subscriber.id, token)) ?? [],
    });
  });

  // RFC 8058 one-click: no cookies, no CSRF token, any body; 200 with a short body, never a redirect.
  app.post('/unsubscribe/:token', unsubscribeRoute, async (request, reply) => {
    const { token } = request.params;
    const oneClick = saysOneClick(request.body) || !(request.headers.accept ?? '').includes('text/html');
    const ok = await readers.unsubscribe(token, request.query.n, oneClick ? 'one-click' : 'page');
    reply.header('referrer-policy', 'no-referrer');
    if (oneClick) {
      return reply.code(ok ? 200 : 404).type('text/plain; charset=utf-8').send(ok ? 'You have been unsubscribed.\n' : 'Unknown unsubscribe link.\n');
    }
    if (!ok) throw new NotFoundError('This unsubscribe link is not valid. It may be incomplete: try copying the whole link from the email.');
    const design = await designAt(c, request.query.n);
    return reply.page('readers/message', {
      title: 'Unsubscribed',
      publicPage: true,
      design,
      heading: design ? `You have been unsubscribed from ${design.brand.name}` : 'You have been unsubscribed',
      message: `You will not receive further emails from ${design ? design.brand.name : 'this newsletter'}. Changed your mind? You can subscribe again from your preferences.`,
      linkUrl: urls.preferences(token),
      linkLabel: 'Manage your preferences',
    });
  });

  async function preferencesPage(reply: FastifyReply, token: string, extra: Record<string, unknown> = {}) {
    const view = await readers.preferences(token);
    if (!view) throw new NotFoundError('This preferences link is not valid. It may be incomplete: try copying the whole link from the email.');
    reply.header('referrer-policy', 'no-referrer');
    return reply.page('readers/preferences', {
      title: 'Your subscription',
      publicPage: true,
      design: await designAt(c, soleSlug(view.newsletters)),
      subscriber: view.subscriber,
      newsletters: view.newsletters,
      action: `/preferences/${encodeURIComponent(token)}`,
      paidPlans: (await paid?.panel(view.subscriber.id, token)) ?? [],
      ...extra,
    });
  }

  app.get('/preferences/:token', { ...pub, schema: { params: tokenParams } }, async (request, reply) => preferencesPage(reply, request.params.token));

  app.post('/preferences/:token', { ...pub, schema: { params: tokenParams, body: preferencesSchema } }, async (request, reply) => {
    const input = request.body;
    const { token } = request.params;
    const ok =
      input.action === 'unsubscribe_all'
        ? await readers.unsubscribe(token, undefined, 'preferences')
        : await readers.updatePreferences(token, { name: input.name, newsletterIds: input.newsletters, trackingIds: input.tracking });
    if (!ok) throw new NotFoundError('This preferences link is not valid.');
    return preferencesPage(reply, token, { saved: input.action === 'unsubscribe_all' ? 'You have been unsubscribed from everything.' : 'Your preferences are saved.' });
  });

  app.get('/preferences/:token/data.json', { ...pub, schema: { params: tokenParams } }, async (request, reply) => {
    const data = await readers.exportData(request.params.token);
    if (!data) throw new NotFoundError('This link is not valid.');
    return reply
      .header('content-disposition', 'attachment; filename="my-data.json"')
      .header('referrer-policy', 'no-referrer')
      .type('application/json; charset=utf-8')
      .send(JSON.stringify(data, null, 2));
  });
}

/** A reader of exactly one newsletter sees its look on their pages; a reader of several sees Gazette's own. */
function soleSlug(newsletters: Array<{ slug: string; status: string | null }>): string | undefined {
  const receiving = newsletters.filter((n) => n.status === 'active' || n.status === 'pending');
  return receiving.length === 1 ? receiving[0]!.slug : undefined;
}
