import { z } from 'zod';
import { ForbiddenError } from '../../lib/errors.js';
import { parseForm } from '../../lib/forms.js';
import { idField, pathId } from '../../lib/params.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { editSubscriberSchema, email, name, tagName } from '../subscribers/schemas.js';
import type { SubscriberService } from '../subscribers/service.js';
import { cursorField, limitField, page } from './cursor.js';
import { hasScope } from './keys.js';
import { eventJson, newsletterJson, subscriberJson, tagJson } from './present.js';
import * as repo from './repository.js';

const subscriberParams = z.object({ id: pathId('There is no subscriber with that id.') });
const statuses = ['active', 'pending', 'unsubscribed'] as const;

const listQuery = z.object({
  cursor: cursorField,
  limit: limitField,
  newsletter_id: idField('Use a newsletter id.').optional(),
  status: z.enum(statuses, { error: 'Use active, pending or unsubscribed.' }).optional(),
  tag: z.string().trim().min(1).max(100).optional(),
  email: email.optional(),
});

const createBody = z.object({
  email,
  name,
  newsletter_id: idField('Give the id of a newsletter (GET /api/v1/newsletters).'),
  status: z.enum(['pending', 'active'], { error: 'Use pending (a confirmation mail is sent) or active.' }).default('pending'),
  tags: z.array(tagName).max(20, 'Give at most 20 tags.').default([]),
});

const updateBody = z.object({ email: email.optional(), name: z.string().max(200, 'Use at most 200 characters.').optional() }).strict();
const unsubscribeBody = z.object({ newsletter_id: idField('Give the id of a newsletter.').optional() }).default({});
const tagBody = z.object({ tag: tagName });
const untagParams = z.object({ id: pathId('There is no subscriber with that id.'), tagId: pathId('There is no tag with that id.') });

const eventsQuery = z.object({
  cursor: cursorField,
  limit: limitField,
  type: z.string().trim().regex(/^[a-z_]{1,40}$/, 'Use an event type such as subscribed or confirmed.').optional(),
  since: z.iso.datetime({ error: 'Use an ISO 8601 time, like 2026-12-01T00:00:00Z.' }).transform((v) => Date.parse(v)).optional(),
  until: z.iso.datetime({ error: 'Use an ISO 8601 time, like 2026-12-31T00:00:00Z.' }).transform((v) => Date.parse(v)).optional(),
});

/** The API's resources: each calls the same service the admin pages call, so both behave alike. */
export function apiRoutes(deps: { subscribers: SubscriberService }) {
  const { subscribers } = deps;
  return async (app: TypedApp) => {
    const db = app.ctx.db;

    async function one(id: number) {
      const s = await subscribers.get(id);
      const [subscriptions, tags] = await Promise.all([repo.subscriptionsOf(db, [id]), repo.tagNamesOf(db, [id])]);
      return subscriberJson(s, { subscriptions, tags });
    }

    app.get('/newsletters', { config: { scope: 'newsletters:read' }, schema: { summary: 'List newsletters', tags: ['newsletters'] } }, async () => ({
      data: (await repo.newsletterList(db)).map(newsletterJson),
    }));

    app.get('/subscribers', { config: { scope: 'subscribers:read' }, schema: { summary: 'List subscribers, oldest first', tags: ['subscribers'], querystring: listQuery } }, async (request) => {
      const q = request.query;
      const rows = await repo.subscribersAfter(db, { after: q.cursor, limit: q.limit + 1, newsletterId: q.newsletter_id, status: q.status, tag: q.tag, email: q.email });
      const ids = rows.map((r) => r.id);
      const [subscriptions, tags] = await Promise.all([repo.subscriptionsOf(db, ids), repo.tagNamesOf(db, ids)]);
      return page(rows, q.limit, (r) => subscriberJson(r, { subscriptions, tags }));
    });

    app.get('/subscribers/:id', { config: { scope: 'subscribers:read' }, schema: { summary: 'Get a subscriber', tags: ['subscribers'], params: subscriberParams } }, async (request) =>
      one(request.params.id),
    );

    app.post('/subscribers', { config: { scope: 'subscribers:write' }, schema: { summary: 'Add a subscriber', tags: ['subscribers'], body: createBody } }, async (request, reply) => {
      const input = request.body;
      // Skipping the confirmation mail is vouching for consent: only a key trusted to do so may.
      if (input.status === 'active' && !hasScope(request.apiKey!.scopes, 'subscribers:write:trusted')) {
        throw new ForbiddenError('Adding a subscriber as active needs the "subscribers:write:trusted" scope; add them as pending and they confirm by email.');
      }
      const id = await subscribers.add({ email: input.email, name: input.name, newsletterId: input.newsletter_id, status: input.status });
      for (const tag of input.tags) await subscribers.tag(id, tag);
      return reply.code(201).header('location', `/api/v1/subscribers/${id}`).send(await one(id));
    });

    app.patch('/subscribers/:id', { config: { scope: 'subscribers:write' }, schema: { summary: 'Change a subscriber’s address or name', tags: ['subscribers'], params: subscriberParams, body: updateBody } }, async (request) => {
      const current = await subscribers.get(request.params.id);
      // What is not sent keeps its value; the whole goes through the admin's own edit schema.
      const input = parseForm(editSubscriberSchema, { email: request.body.email ?? current.email, name: request.body.name ?? current.name });
      await subscribers.edit(request.params.id, input);
      return one(request.params.id);
    });

    app.post('/subscribers/:id/unsubscribe', { config: { scope: 'subscribers:write' }, schema: { summary: 'Unsubscribe from one newsletter, or from all', tags: ['subscribers'], params: subscriberParams, body: unsubscribeBody } }, async (request) => {
      await subscribers.unsubscribe(request.params.id, request.body.newsletter_id ?? null);
      return one(request.params.id);
    });

    app.delete('/subscribers/:id', { config: { scope: 'subscribers:write' }, schema: { summary: 'Erase a subscriber and their personal data (GDPR)', tags: ['subscribers'], params: subscriberParams } }, async (request, reply) => {
      await subscribers.erase(request.params.id);
      return reply.code(204).send();
    });

    app.post('/subscribers/:id/tags', { config: { scope: 'tags:write' }, schema: { summary: 'Tag a subscriber', tags: ['tags'], params: subscriberParams, body: tagBody } }, async (request) => {
      await subscribers.tag(request.params.id, request.body.tag);
      return one(request.params.id);
    });

    app.delete('/subscribers/:id/tags/:tagId', { config: { scope: 'tags:write' }, schema: { summary: 'Untag a subscriber', tags: ['tags'], params: untagParams } }, async (request) => {
      await subscribers.untag(request.params.id, request.params.tagId);
      return one(request.params.id);
    });

    app.get('/tags', { config: { scope: 'tags:read' }, schema: { summary: 'List tags', tags: ['tags'], querystring: z.object({ cursor: cursorField, limit: limitField }) } }, async (request) => {
      const rows = await repo.tagsAfter(db, request.query.cursor, request.query.limit + 1);
      return page(rows, request.query.limit, tagJson);
    });

    app.get('/events', { config: { scope: 'events:read' }, schema: { summary: 'List the event log, oldest first', tags: ['events'], querystring: eventsQuery } }, async (request) => {
      const q = request.query;
      const rows = await repo.eventsAfterId(db, { after: q.cursor, limit: q.limit + 1, type: q.type, since: q.since, until: q.until });
      return page(rows, q.limit, eventJson);
    });
  };
}
