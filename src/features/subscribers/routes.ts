import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ValidationError } from '../../lib/errors.js';
import { echoFields, parseForm } from '../../lib/forms.js';
import { isId, parseId, pathId } from '../../lib/params.js';
import { queryText } from '../../lib/query.js';
import { listTimeZone, timesIn } from '../../lib/time-zones.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { htmxRequest } from '../../plugins/views.js';
import { attachmentHeaders } from './csv.js';
import { exportCsv } from './export.js';
import { filterParams, filterQueryString, parseFilter, SORTS, STATUSES, type SubscriberFilter } from './filters.js';
import { describeEvents } from './history.js';
import { countByStatus, listSubscribersPage, pageExtras, type PageRequest, type SortKey } from './list-repository.js';
import { listTags } from './repository.js';
import { addSubscriberSchema, bulkSchema, displayValue, editSubscriberSchema, parseAttributes, tagSchema, unsubscribeSchema } from './schemas.js';
import type { SubscriberService } from './service.js';

const PAGE_SIZE = 50;

/** The list's query is read by parseFilter (the filter) and decodePage (the page cursor), key by key. */
const listQuery = z.record(z.string(), z.unknown());
const subscriberParams = z.object({ id: pathId('There is no subscriber with that number. They may have been deleted.') });
const subscriberRoute = { params: subscriberParams };
/** An unknown tag id removes nothing: the page is shown as it is. */
const untagParams = subscriberParams.extend({ tagId: z.string().transform((v) => parseId(v)) });
/** The rows of a refused attributes form, echoed back as they were typed. */
const attributeEcho = z.object({ key: z.unknown().optional(), value: z.unknown().optional() }).catch({});

/** Keyset positions travel as opaque URL-safe strings; a tampered one is a 400, never a 500. */
function encodeKey(key: SortKey): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

const emailKey = z.object({ email: z.string().max(254) });
const createdKey = z.object({ created_at: z.number().refine(Number.isSafeInteger), id: z.number().refine(isId) });

function decodePage(query: Record<string, unknown>, filter: SubscriberFilter): PageRequest | null {
  const direction = typeof query.after === 'string' && query.after ? 'after' : typeof query.before === 'string' && query.before ? 'before' : null;
  if (!direction) return null;
  const bad = () => new ValidationError({ _form: 'That page link is out of date. Start again from the first page.' }, 'That page link is not valid.');
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(String(query[direction]), 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (filter.sort === 'email') {
    const k = emailKey.safeParse(key);
    if (!k.success) throw bad();
    return { direction, key: k.data };
  }
  const k = createdKey.safeParse(key);
  if (!k.success) throw bad();
  return { direction, key: k.data };
}

const DONE_MESSAGES: Record<string, (n: number, tag: string) => string> = {
  tagged: (n, tag) => `Tagged ${n.toLocaleString('en')} subscriber${n === 1 ? '' : 's'} with “${tag}”.`,
  untagged: (n, tag) => `Removed “${tag}” from ${n.toLocaleString('en')} subscriber${n === 1 ? '' : 's'}.`,
  deleted: () => 'The subscriber and their personal data were deleted.',
};

/** The subscribers admin, in two groups: the list (export, bulk actions, adding one), and one subscriber's page. */
export default async function subscriberRoutes(app: TypedApp, opts: { subscribers: SubscriberService }) {
  listRoutes(app, opts.subscribers);
  detailRoutes(app, opts.subscribers);
}

function listRoutes(app: TypedApp, service: SubscriberService) {
  const { db } = app.ctx;

  async function listPage(reply: FastifyReply, query: Record<string, unknown>, extra: Record<string, unknown> = {}, status = 200) {
    const filter = parseFilter(query);
    const page = decodePage(query, filter);
    const [result, counts, newsletters, tags] = await Promise.all([
      listSubscribersPage(db, filter, page, PAGE_SIZE),
      countByStatus(db, filter),
      service.newsletters(),
      listTags(db),
    ]);
    const extras = await pageExtras(db, result.rows.map((r) => r.id));
    const rows = result.rows.map((r) => ({ ...r, subscriptions: extras.subscriptions.get(r.id) ?? [], tags: extras.tags.get(r.id) ?? [] }));
    const doneKey = typeof query.done === 'string' ? query.done : '';
    const done = DONE_MESSAGES[doneKey]?.(Number(query.n) || 0, typeof query.tag_name === 'string' ? query.tag_name.slice(0, 50) : '');
    return reply.page(
      'subscribers/index',
      {
        title: 'Subscribers',
        filter,
        params: filterParams(filter),
        qs: (extraParams: Record<string, string> = {}) => filterQueryString(filter, extraParams),
        rows,
        counts,
        newsletters,
        tags,
        sorts: SORTS,
        statuses: STATUSES,
        nextUrl: result.next ? `/admin/subscribers${filterQueryString(filter, { after: encodeKey(result.next) })}` : null,
        prevUrl: result.prev ? `/admin/subscribers${filterQueryString(filter, { before: encodeKey(result.prev) })}` : null,
        firstUrl: page ? `/admin/subscribers${filterQueryString(filter)}` : null,
        exportUrl: `/admin/subscribers/export.csv${filterQueryString(filter)}`,
        done,
        zoned: timesIn(listTimeZone(newsletters)),
        ...extra,
      },
      { fragment: 'subscribers/_results', status },
    );
  }

  app.get('/admin/subscribers', { schema: { querystring: listQuery } }, async (request, reply) => listPage(reply, request.query));

  app.get('/admin/subscribers/export.csv', async (request, reply) => {
    const filter = parseFilter(request.query);
    const day = new Date(app.ctx.clock.now()).toISOString().slice(0, 10);
    reply.headers(attachmentHeaders(`subscribers-${day}.csv`));
    const stream = Readable.from(exportCsv(db, filter));
    stream.on('error', (err) => request.log.error({ err }, 'subscriber export failed midway'));
    return reply.send(stream);
  });

  app.post('/admin/subscribers/bulk', async (request, reply) => {
    const body = request.body;
    const filter = parseFilter(body);
    try {
      const input = parseForm(bulkSchema, body);
      const n = await service.bulkTag(input.action, input.tag_name, input.scope === 'filter' ? { filter } : { ids: input.ids });
      return reply.redirect(`/admin/subscribers${filterQueryString(filter, { done: `${input.action}ged`, n: String(n), tag_name: input.tag_name })}`, 303);
    } catch (err) {
      if (err instanceof ValidationError) return listPage(reply, { ...filterParams(filter) }, { bulkErrors: err.fields, bulkValues: echoFields(body) }, 422);
      throw err;
    }
  });

  // ---- one subscriber ----

  async function newPage(reply: FastifyReply, extra: Record<string, unknown> = {}, status = 200) {
    return reply.page('subscribers/new', { title: 'Add a subscriber', newsletters: await service.newsletters(), values: { status: 'active' }, ...extra }, { status });
  }

  app.get('/admin/subscribers/new', async (_request, reply) => newPage(reply));

  app.post('/admin/subscribers', async (request, reply) => {
    try {
      const input = parseForm(addSubscriberSchema, request.body);
      const id = await service.add({ email: input.email, name: input.name, newsletterId: input.newsletter_id, status: input.status, acceptTypo: input.accept_typo });
      return reply.redirect(`/admin/subscribers/${id}`, 303);
    } catch (err) {
      if (err instanceof ValidationError) return newPage(reply, { errors: err.fields, values: echoFields(request.body) }, 422);
      throw err;
    }
  });
}

function detailRoutes(app: TypedApp, service: SubscriberService) {
  async function detailPage(reply: FastifyReply, id: number, extra: Record<string, unknown> = {}, status = 200, fragment?: string) {
    const d = await service.detail(id);
    const attributeRows = Object.entries(d.attributes).map(([key, value]) => ({ key, value: displayValue(value) }));
    return reply.page(
      'subscribers/show',
      {
        title: d.subscriber.email,
        ...d,
        attributeRows,
        history: describeEvents(d.events, d.newsletters),
        zoned: timesIn(listTimeZone(d.newsletters)),
        values: { email: d.subscriber.email, name: d.subscriber.name },
        ...extra,
      },
      { status, fragment },
    );
  }

  app.get('/admin/subscribers/:id', { schema: { ...subscriberRoute, querystring: z.object({ saved: queryText }) } }, async (request, reply) => {
    return detailPage(reply, request.params.id, { saved: request.query.saved ?? '' });
  });

  app.post('/admin/subscribers/:id', { schema: subscriberRoute }, async (request, reply) => {
    const { id } = request.params;
    try {
      const input = parseForm(editSubscriberSchema, request.body);
      await service.edit(id, input);
      return reply.redirect(`/admin/subscribers/${id}?saved=details`, 303);
    } catch (err) {
      if (err instanceof ValidationError) return detailPage(reply, id, { errors: err.fields, values: echoFields(request.body) }, 422);
      throw err;
    }
  });

  app.post('/admin/subscribers/:id/attributes', { schema: subscriberRoute }, async (request, reply) => {
    const { id } = request.params;
    const current = await service.detail(id);
    try {
      await service.setAttributes(id, parseAttributes(request.body, current.attributes));
      return reply.redirect(`/admin/subscribers/${id}?saved=attributes#attributes`, 303);
    } catch (err) {
      if (err instanceof ValidationError) {
        const b = attributeEcho.parse(request.body);
        const list = (v: unknown) => (Array.isArray(v) ? v : v === undefined ? [] : [v]).map(String);
        const values = list(b.value);
        const attributeRows = list(b.key).map((key, i) => ({ key, value: values[i] ?? '' }));
        return detailPage(reply, id, { attributeErrors: err.fields, attributeRows }, 422);
      }
      throw err;
    }
  });

  // Tag changes answer the tags fragment to htmx and redirect plain forms back to the page.
  app.post('/admin/subscribers/:id/tags', { schema: subscriberRoute }, async (request, reply) => {
    const { id } = request.params;
    try {
      const input = parseForm(tagSchema, request.body);
      await service.tag(id, input.tag);
    } catch (err) {
      if (err instanceof ValidationError) return detailPage(reply, id, { tagErrors: err.fields, tagValue: echoFields(request.body).tag ?? '' }, 422, 'subscribers/_tags');
      throw err;
    }
    if (htmxRequest(request).isHtmx) return detailPage(reply, id, {}, 200, 'subscribers/_tags');
    return reply.redirect(`/admin/subscribers/${id}#tags`, 303);
  });

  app.post('/admin/subscribers/:id/tags/:tagId/delete', { schema: { params: untagParams } }, async (request, reply) => {
    const { id, tagId } = request.params;
    if (tagId !== null) await service.untag(id, tagId);
    if (htmxRequest(request).isHtmx) return detailPage(reply, id, {}, 200, 'subscribers/_tags');
    return reply.redirect(`/admin/subscribers/${id}#tags`, 303);
  });

  app.post('/admin/subscribers/:id/unsubscribe', { schema: { ...subscriberRoute, body: unsubscribeSchema } }, async (request, reply) => {
    const { id } = request.params;
    const input = request.body;
    await service.unsubscribe(id, input.newsletter_id === 'all' ? null : input.newsletter_id);
    return reply.redirect(`/admin/subscribers/${id}?saved=unsubscribed#subscriptions`, 303);
  });

  app.post('/admin/subscribers/:id/delete', { schema: subscriberRoute }, async (request, reply) => {
    await service.erase(request.params.id);
    return reply.redirect('/admin/subscribers?done=deleted', 303);
  });
}
