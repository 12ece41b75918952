import fastifySwagger from '@fastify/swagger';
import { z, ZodType } from 'zod';
import type { TypedApp } from '../../plugins/schemas.js';

/**
 * The OpenAPI 3.1 document, generated from the very zod schemas that check each request (converted to
 * JSON Schema as the client sends it, before any transform), so it cannot drift from what is enforced.
 */
const toJson = (schema: unknown) => (schema instanceof ZodType ? z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) : schema);

export async function registerOpenApi(app: TypedApp, info: { baseUrl: string; version: string }) {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Gazette API',
        version: info.version,
        description:
          'Subscribers, tags, newsletters, posts, imports, the suppression list and the event log of a Gazette installation. Authenticate with `Authorization: Bearer <key>` (keys are made in the admin, with scopes). Lists page with `cursor`/`next_cursor`; errors are RFC 9457 problem+json naming each field; POSTs accept an `Idempotency-Key`.',
      },
      servers: [{ url: `${info.baseUrl}/api/v1` }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: ({ schema, url, route }) => {
      if (!schema) return { schema, url };
      const { params, querystring, body, ...rest } = schema as Record<string, unknown>;
      // OpenAPI 3.1 lets a bearer requirement name roles: each operation names the key scope it needs.
      const scope = (route.config as { scope?: string } | undefined)?.scope;
      return {
        url: url.replace(/^\/api\/v1/, ''),
        schema: {
          ...rest,
          ...(scope ? { security: [{ bearer: [scope] }] } : {}),
          ...(params ? { params: toJson(params) } : {}),
          ...(querystring ? { querystring: toJson(querystring) } : {}),
          ...(body ? { body: toJson(body) } : {}),
        },
      };
    },
  });
}
