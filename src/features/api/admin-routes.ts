import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ValidationError } from '../../lib/errors.js';
import { echoFields, parseForm } from '../../lib/forms.js';
import { pathId } from '../../lib/params.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { API_SCOPES, SCOPE_LABELS, type ApiScope } from './keys.js';
import type { ApiService } from './service.js';

const asList = (v: unknown) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const isScope = (s: string): s is ApiScope => (API_SCOPES as readonly string[]).includes(s);

const keySchema = z.object({
  name: z.string({ error: 'Name the key, e.g. after the tool that uses it.' }).trim().min(1, 'Name the key, e.g. after the tool that uses it.').max(100, 'Use at most 100 characters.'),
  scopes: z.preprocess(
    asList,
    z
      .array(z.string())
      .min(1, 'Choose at least one permission.')
      .max(API_SCOPES.length, 'Choose permissions from the list.')
      .refine((list) => list.every(isScope), 'Choose permissions from the list.')
      .transform((list) => [...new Set(list.filter(isScope))]),
  ),
});

interface OpenApiOperation {
  summary?: string;
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown>; required?: string[] } }> };
}

/** The admin's API page: keys (shown once, stored hashed, revocable) and a reference of every endpoint. */
export default async function apiAdminRoutes(app: TypedApp, opts: { api: ApiService }) {
  const { api } = opts;
  const scopeChoices = API_SCOPES.map((scope) => ({ scope, label: SCOPE_LABELS[scope] }));
  const utc = (ms: number | null) => (ms === null ? null : `${new Date(Number(ms)).toISOString().replace('T', ' ').slice(0, 16)} UTC`);

  async function reference() {
    const res = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    const doc = res.json<{ paths: Record<string, Record<string, OpenApiOperation>> }>();
    return Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({
        method: method.toUpperCase(),
        path: `/api/v1${path}`,
        summary: op.summary ?? '',
        query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
        body: Object.keys(op.requestBody?.content?.['application/json']?.schema?.properties ?? {}),
      })),
    );
  }

  const page = async (reply: FastifyReply, extra: Record<string, unknown> = {}, status = 200) =>
    reply.page(
      'api/index',
      {
        title: 'API',
        keys: (await api.list()).map((k) => ({ id: k.id, name: k.name, prefix: k.prefix, scopes: k.scopeList, created: utc(k.created_at), lastUsed: utc(k.last_used_at), revoked: utc(k.revoked_at) })),
        scopeChoices,
        endpoints: await reference(),
        rateLimit: app.ctx.config.apiRateLimit,
        values: { scopes: [] },
        errors: {},
        ...extra,
      },
      { status },
    );

  app.get('/admin/api', async (_request, reply) => page(reply));

  app.post('/admin/api/keys', async (request, reply) => {
    try {
      const input = parseForm(keySchema, request.body);
      const { key } = await api.create(input.name, input.scopes);
      return page(reply, { created: { name: input.name, key } }, 201);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const raw = echoFields(request.body);
      const body = request.body && typeof request.body === 'object' ? Object.entries(request.body) : [];
      const scopes = body.filter(([k]) => k === 'scopes').flatMap(([, v]) => asList(v)).filter((s): s is string => typeof s === 'string');
      return page(reply, { values: { ...raw, scopes }, errors: err.fields }, 422);
    }
  });

  app.post('/admin/api/keys/:id/revoke', { schema: { params: z.object({ id: pathId('There is no such key.') }) } }, async (request, reply) => {
    await api.revoke(request.params.id);
    return reply.redirect('/admin/api', 303);
  });
}
