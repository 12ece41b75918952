import type { TypedApp } from '../../plugins/schemas.js';
import { BadRequestError } from '../../lib/errors.js';
import type { BillingService } from './service.js';

const BODY_LIMIT = 512 * 1024;

/**
 * `POST /webhooks/stripe`. The signature covers the exact bytes Stripe sent, so this plugin (and only
 * it) keeps every body as a Buffer. Public and without CSRF: the signature stands in. A bad signature
 * is a 400; an event Gazette has no use for is acknowledged with 200; a failure to reach Stripe while
 * processing is a 503, so Stripe delivers the event again later (it was not recorded).
 */
export default async function stripeWebhookRoutes(app: TypedApp, opts: { billing: BillingService }) {
  const { billing } = opts;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_request, body, done) => done(null, body));

  app.post('/webhooks/stripe', { config: { public: true, csrf: false }, bodyLimit: BODY_LIMIT }, async (request, reply) => {
    if (!billing.enabled) return reply.code(404).send({ error: { code: 'not_found', message: 'Paid subscriptions are not set up on this server.' } });
    const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const signature = request.headers['stripe-signature'];
    try {
      const result = await billing.receiveWebhook(rawBody, typeof signature === 'string' ? signature : undefined);
      request.log.info(result, 'Stripe event received');
      return reply.send({ received: true, outcome: result.outcome });
    } catch (err) {
      if (err instanceof BadRequestError) {
        request.log.warn({ problem: err.message }, 'Stripe webhook refused');
        return reply.code(400).send({ error: { code: 'bad_signature', message: err.message } });
      }
      request.log.error({ err }, 'a Stripe event could not be processed; Stripe will deliver it again');
      return reply.code(503).send({ error: { code: 'retry', message: 'The event could not be processed now; deliver it again later.' } });
    }
  });
}
