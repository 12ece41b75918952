import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, FastifyTypeProvider, RawServerDefault } from 'fastify';
import fp from 'fastify-plugin';
import { ZodType, type z } from 'zod';
import { NotFoundError, ValidationError } from '../lib/errors.js';
import { fieldsOf } from '../lib/forms.js';

/**
 * Route schemas are zod schemas: `schema: { params, querystring, body }` on a route types `request.params`,
 * `request.query` and `request.body` as what the schema outputs (ids as numbers, flags as booleans).
 */
export interface ZodTypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends z.ZodType ? z.output<this['schema']> : unknown;
  serializer: this['schema'] extends z.ZodType ? z.input<this['schema']> : unknown;
}

/** The app as route plugins see it: route schemas are zod schemas and type the request. */
export type TypedApp = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

/**
 * A part of the request checked against its schema: a path parameter that fails names no page (a 404
 * with the schema's message); a query or body that fails is a ValidationError, shown as the form or as
 * JSON naming each field, like `parseForm`'s.
 */
function parsePart(schema: unknown, part: 'params' | 'querystring' | 'body', data: unknown): unknown {
  if (!(schema instanceof ZodType)) return data;
  const result = schema.safeParse(part === 'body' ? (data ?? {}) : data);
  if (result.success) return result.data;
  if (part === 'params') throw new NotFoundError(result.error.issues[0]?.message);
  throw new ValidationError(fieldsOf(result.error));
}

/**
 * Schemas are checked in a preHandler registered after the session and CSRF hooks, not at Fastify's
 * validation step (which comes before every preHandler): an anonymous or forged request learns nothing
 * about which ids or fields are valid, and the CSRF check still reads its token from the body as sent
 * (a body schema drops fields it does not list). Fastify's own step passes everything through.
 */
export default fp(
  async (app) => {
    app.setValidatorCompiler(() => () => true);
    // An input schema this hook would not check (JSON Schema, or headers) is refused at start-up.
    app.addHook('onRoute', (route) => {
      const { params, querystring, body, headers } = route.schema ?? {};
      if (headers !== undefined || [params, querystring, body].some((schema) => schema !== undefined && !(schema instanceof ZodType))) {
        throw new Error(`${route.method} ${route.url}: input schemas are zod schemas for params, querystring or body; others are not checked.`);
      }
    });
    app.addHook('preHandler', async (request) => {
      const schema = request.routeOptions.schema;
      if (!schema) return;
      request.params = parsePart(schema.params, 'params', request.params);
      request.query = parsePart(schema.querystring, 'querystring', request.query);
      request.body = parsePart(schema.body, 'body', request.body);
    });
  },
  { name: 'gazette-schemas', dependencies: ['gazette-errors', 'gazette-session', 'gazette-csrf'] },
);
