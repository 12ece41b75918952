import type { FastifyReply } from 'fastify';
import { ValidationError } from '../../lib/errors.js';
import { echoFields, parseForm } from '../../lib/forms.js';
import { queryFlag } from '../../lib/query.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { StripeUnavailableError } from './deps.js';
import { checkoutSchema, newsletterIdParams, paidSlugParams, subscriberIdParams, paidTokenParams, pauseSchema, planSchema, postIdParams, tierSchema } from './schemas.js';
import type { BillingService } from './service.js';
import { z } from 'zod';

/** Stripe could not be reached: nothing changed, and the page says so (503, never a 500). */
async function unavailable(reply: FastifyReply, err: unknown) {
  if (!(err instanceof StripeUnavailableError)) throw err;
  reply.log.warn({ err: err.cause }, 'Stripe call failed');
  return reply.page('errors/error', { title: 'Payments unavailable', status: 503, message: err.message, publicPage: true }, { status: 503 });
}

/**
 * Readers' paid plans. Like the other reader pages they act on the unguessable token from the reader's
 * mail (or on a new address, for checkout), so they are public and outside CSRF checks. Every page is a
 * plain form: nothing needs JavaScript.
 */
export default async function billingRoutes(app: TypedApp, opts: { billing: BillingService }) {
  const { billing } = opts;
  const pub = { config: { public: true, csrf: false } } as const;
  const prefs = (token: string) => `/preferences/${encodeURIComponent(token)}#paid`;

  app.post('/n/:slug/paid', { ...pub, schema: { params: paidSlugParams } }, async (request, reply) => {
    const { slug } = request.params;
    try {
      return reply.redirect(await billing.startCheckout(slug, parseForm(checkoutSchema, request.body), request.ip), 303);
    } catch (err) {
      if (err instanceof ValidationError) {
        const offer = await billing.offerAt(slug);
        return reply.page('billing/checkout', { title: 'Paid subscription', publicPage: true, ...offer, values: echoFields(request.body), errors: err.fields }, { status: 422 });
      }
      return unavailable(reply, err);
    }
  });

  app.get('/n/:slug/paid', { ...pub, schema: { params: paidSlugParams } }, async (request, reply) => {
    const offer = await billing.offerAt(request.params.slug);
    return reply.page('billing/checkout', { title: 'Paid subscription', publicPage: true, ...offer, values: {} });
  });

  // Nothing is granted here: the webhook subscribes the reader once Stripe has the payment.
  app.get('/n/:slug/paid/thanks', { ...pub, schema: { params: paidSlugParams } }, async (request, reply) => {
    const offer = await billing.offerAt(request.params.slug);
    return reply.page('readers/message', {
      title: 'Thank you',
      publicPage: true,
      newsletter: offer.newsletter,
      heading: 'Thank you!',
      message: `Your payment is being confirmed by Stripe. Your paid subscription to ${offer.newsletter.name} starts within a minute, and a receipt comes by email.`,
      homeUrl: offer.homeUrl,
    });
  });

  app.post('/billing/:token/:paidId/pause', { ...pub, schema: { params: paidTokenParams } }, async (request, reply) => {
    const { token, paidId } = request.params;
    const { months } = parseForm(pauseSchema, request.body);
    return billing.pause(token, paidId, months).then(() => reply.redirect(prefs(token), 303), (err: unknown) => unavailable(reply, err));
  });

  app.post('/billing/:token/:paidId/resume', { ...pub, schema: { params: paidTokenParams } }, async (request, reply) => {
    const { token, paidId } = request.params;
    return billing.resume(token, paidId).then(() => reply.redirect(prefs(token), 303), (err: unknown) => unavailable(reply, err));
  });

  // The one confirmation before cancelling: what the reader keeps and until when, and two equal buttons.
  app.get('/billing/:token/:paidId/cancel', { ...pub, schema: { params: paidTokenParams } }, async (request, reply) => {
    const { token, paidId } = request.params;
    const plan = await billing.cancelPreview(token, paidId);
    reply.header('referrer-policy', 'no-referrer');
    return reply.page('billing/cancel', { title: 'Cancel your paid subscription', publicPage: true, plan, backUrl: prefs(token) });
  });

  app.post('/billing/:token/:paidId/cancel', { ...pub, schema: { params: paidTokenParams } }, async (request, reply) => {
    const { token, paidId } = request.params;
    return billing.cancel(token, paidId).then(() => reply.redirect(prefs(token), 303), (err: unknown) => unavailable(reply, err));
  });

  app.post('/billing/:token/:paidId/portal', { ...pub, schema: { params: paidTokenParams } }, async (request, reply) => {
    const { token, paidId } = request.params;
    return billing.portal(token, paidId).then((url) => reply.redirect(url, 303), (err: unknown) => unavailable(reply, err));
  });

  writerRoutes(app, billing);
}

/** The writer's price settings and figures per newsletter, and a post's audience tier. */
function writerRoutes(app: TypedApp, billing: BillingService) {
  async function planPage(reply: FastifyReply, newsletterId: number, extra: { values?: Record<string, string>; errors?: Record<string, string>; saved?: boolean } = {}, status = 200) {
    const page = await billing.planPage(newsletterId);
    const plan = page.plan;
    const cents = (v: number | null | undefined) => (v === null || v === undefined ? '' : (v / 100).toFixed(2));
    const values = extra.values ?? { currency: plan?.currency ?? 'eur', monthly: cents(plan?.monthly_amount), yearly: cents(plan?.yearly_amount) };
    return reply.page('billing/plan', { title: `Paid plans: ${page.newsletter.name}`, ...page, testMode: billing.testMode, values, errors: extra.errors, saved: extra.saved }, { status });
  }

  app.get('/admin/newsletters/:id/paid', { schema: { params: newsletterIdParams, querystring: z.object({ saved: queryFlag() }) } }, async (request, reply) =>
    planPage(reply, request.params.id, { saved: request.query.saved }),
  );

  app.post('/admin/newsletters/:id/paid', { schema: { params: newsletterIdParams } }, async (request, reply) => {
    const { id } = request.params;
    try {
      await billing.setPlan(id, parseForm(planSchema, request.body));
      return reply.redirect(`/admin/newsletters/${id}/paid?saved=1`, 303);
    } catch (err) {
      if (err instanceof ValidationError) return planPage(reply, id, { values: echoFields(request.body), errors: err.fields }, 422);
      return unavailable(reply, err);
    }
  });

  app.get('/admin/subscribers/:id/billing', { schema: { params: subscriberIdParams } }, async (request, reply) => {
    const rows = await billing.subscriberBilling(request.params.id);
    return reply.page('billing/subscriber', { title: 'Paid plans and billing', subscriberId: request.params.id, rows });
  });

  app.post('/admin/posts/:id/tier', { schema: { params: postIdParams } }, async (request, reply) => {
    const { id } = request.params;
    await billing.setPostTier(id, parseForm(tierSchema, request.body).tier);
    return reply.redirect(`/admin/posts/${id}#audience`, 303);
  });
}
