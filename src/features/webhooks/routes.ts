import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ValidationError } from '../../lib/errors.js';
import { echoFields, parseForm } from '../../lib/forms.js';
import { queryChoice } from '../../lib/query.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { WEBHOOK_EVENT_LABELS, WEBHOOK_EVENT_TYPES } from './events.js';
import { deliveryParams, endpointParams, endpointSchema } from './schemas.js';
import type { WebhookService } from './service.js';
import { attemptView, deliveryView, endpointRow } from './views.js';

const NOTICES = ['saved', 'test', 'replayed', 'enabled', 'disabled'] as const;

/** The admin's Webhooks pages: endpoints, their signing secrets (shown once), deliveries and attempts. */
export default async function webhookRoutes(app: TypedApp, opts: { webhooks: WebhookService }) {
  const { webhooks } = opts;
  const eventChoices = WEBHOOK_EVENT_TYPES.map((type) => ({ type, label: WEBHOOK_EVENT_LABELS[type] }));

  const listPage = async (reply: FastifyReply, extra: Record<string, unknown> = {}, status = 200) =>
    reply.page('webhooks/index', { title: 'Webhooks', endpoints: (await webhooks.list()).map(endpointRow), eventChoices, values: { event_types: [] }, errors: {}, ...extra }, { status });

  const formValues = (body: unknown) => {
    const raw = (body ?? {}) as Record<string, unknown>;
    const types = raw.event_types === undefined ? [] : Array.isArray(raw.event_types) ? raw.event_types : [raw.event_types];
    return { ...echoFields(body), event_types: types.filter((t): t is string => typeof t === 'string') };
  };

  app.get('/admin/webhooks', async (_request, reply) => listPage(reply));

  app.post('/admin/webhooks', async (request, reply) => {
    try {
      const input = parseForm(endpointSchema, request.body);
      const { endpoint, secret } = await webhooks.create({ url: input.url, description: input.description, eventTypes: input.event_types });
      return reply.page('webhooks/secret', { title: 'Webhook endpoint added', endpoint, secret, rotated: false }, { status: 201 });
    } catch (err) {
      if (err instanceof ValidationError) return listPage(reply, { values: formValues(request.body), errors: err.fields }, 422);
      throw err;
    }
  });

  const showPage = async (reply: FastifyReply, id: number, extra: Record<string, unknown> = {}, status = 200) => {
    const { endpoint, deliveries, attempts } = await webhooks.get(id);
    return reply.page(
      'webhooks/show',
      {
        title: `Webhook: ${endpoint.url}`,
        endpoint: endpointRow(endpoint),
        deliveries: deliveries.map(deliveryView),
        attempts: attempts.map(attemptView),
        eventChoices,
        values: { url: endpoint.url, description: endpoint.description, event_types: endpoint.eventTypeList },
        errors: {},
        ...extra,
      },
      { status },
    );
  };

  app.get('/admin/webhooks/:id', { schema: { params: endpointParams, querystring: z.object({ done: queryChoice(NOTICES) }) } }, async (request, reply) =>
    showPage(reply, request.params.id, { done: request.query.done }),
  );

  app.post('/admin/webhooks/:id', { schema: { params: endpointParams } }, async (request, reply) => {
    try {
      const input = parseForm(endpointSchema, request.body);
      await webhooks.update(request.params.id, { url: input.url, description: input.description, eventTypes: input.event_types });
      return reply.redirect(`/admin/webhooks/${request.params.id}?done=saved`, 303);
    } catch (err) {
      if (err instanceof ValidationError) return showPage(reply, request.params.id, { values: formValues(request.body), errors: err.fields }, 422);
      throw err;
    }
  });

  const action = (path: string, run: (id: number) => Promise<unknown>, done: (typeof NOTICES)[number]) =>
    app.post(`/admin/webhooks/:id/${path}`, { schema: { params: endpointParams } }, async (request, reply) => {
      await run(request.params.id);
      return reply.redirect(`/admin/webhooks/${request.params.id}?done=${done}`, 303);
    });
  action('test', (id) => webhooks.sendTest(id), 'test');
  action('enable', (id) => webhooks.enable(id), 'enabled');
  action('disable', (id) => webhooks.disable(id), 'disabled');

  app.post('/admin/webhooks/:id/rotate', { schema: { params: endpointParams } }, async (request, reply) => {
    const secret = await webhooks.rotate(request.params.id);
    const { endpoint } = await webhooks.get(request.params.id);
    return reply.page('webhooks/secret', { title: 'New signing secret', endpoint, secret, rotated: true });
  });

  app.post('/admin/webhooks/:id/delete', { schema: { params: endpointParams } }, async (request, reply) => {
    await webhooks.remove(request.params.id);
    return reply.redirect('/admin/webhooks', 303);
  });

  app.post('/admin/webhooks/:id/deliveries/:deliveryId/replay', { schema: { params: deliveryParams } }, async (request, reply) => {
    await webhooks.replay(request.params.id, request.params.deliveryId);
    return reply.redirect(`/admin/webhooks/${request.params.id}?done=replayed`, 303);
  });
}
