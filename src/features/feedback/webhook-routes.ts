import { z } from 'zod';
import { BadRequestError, NotFoundError, RateLimitedError } from '../../lib/errors.js';
import type { TypedApp } from '../../plugins/schemas.js';
import type { WebhookReceiver } from './webhooks/receiver.js';
import { WebhookRefusal } from './webhooks/types.js';

const BODY_LIMIT = 1024 * 1024;
const params = z.object({ provider: z.string().max(40) });
const query = z.object({ token: z.string().max(500).optional() });

/**
 * `POST /webhooks/bounces/<provider>`: relays report bounces and complaints here. Signatures cover the
 * exact bytes sent, so in this plugin every body is kept as a Buffer whatever its content type. Public
 * and without CSRF (the provider's own check stands in); a provider without its secret is a 404.
 */
export default async function webhookRoutes(app: TypedApp, opts: { receiver: WebhookReceiver }) {
  const { receiver } = opts;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_request, body, done) => done(null, body));

  app.post(
    '/webhooks/bounces/:provider',
    { config: { public: true, csrf: false }, bodyLimit: BODY_LIMIT, schema: { params, querystring: query } },
    async (request, reply) => {
      const { provider } = request.params;
      if (!receiver.enabled(provider)) throw new NotFoundError('No bounce webhook is set up for that provider.');
      const wait = receiver.admit(provider);
      if (wait > 0) {
        request.log.warn({ provider }, 'bounce webhook rate limit reached: asking the provider to retry');
        throw new RateLimitedError(wait, 'Too many webhook calls at once; retry shortly.');
      }
      const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      try {
        const receipt = await receiver.receive(provider, { rawBody, headers: request.headers, query: request.query });
        if (receipt.confirmed === false) {
          request.log.warn({ provider }, 'the SNS subscription could not be confirmed');
          return reply.code(503).send({ error: { code: 'unavailable', message: 'The subscription could not be confirmed; retry later.' } });
        }
        return reply.send(receipt);
      } catch (err) {
        if (err instanceof WebhookRefusal) request.log.warn({ provider, reason: err.reason }, 'bounce webhook refused');
        else if (err instanceof BadRequestError) request.log.warn({ provider, problem: err.message }, 'bounce webhook malformed');
        throw err;
      }
    },
  );
}
