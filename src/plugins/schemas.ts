import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, FastifySchemaCompiler, FastifyTypeProvider, RawServerDefault } from 'fastify';
import fp from 'fastify-plugin';
import type { z } from 'zod';
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
 * A path parameter that fails its schema names no page: a 404 with the schema's message. A query or body
 * that fails is a ValidationError, shown as the form or as JSON naming each field, like `parseForm`'s.
 */
const validatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema, httpPart }) =>
  (data) => {
    const result = schema.safeParse(httpPart === 'body' ? (data ?? {}) : data);
    if (result.success) return { value: result.data };
    if (httpPart === 'params') return { error: new NotFoundError(result.error.issues[0]?.message) };
    return { error: new ValidationError(fieldsOf(result.error)) };
  };

/**
 * Validation waits until the request is authenticated and its CSRF token checked (both preHandler
 * hooks): an anonymous or forged request learns nothing about which ids or fields are valid. Fastify
 * validates before preHandler, so a route with a schema keeps its failure and this hook, registered
 * after session and CSRF, throws it.
 */
export default fp(
  async (app) => {
    app.setValidatorCompiler(validatorCompiler);
    app.addHook('onRoute', (route) => {
      if (route.schema) route.attachValidation = true;
    });
    app.addHook('preHandler', async (request) => {
      if (request.validationError) throw request.validationError;
    });
  },
  { name: 'gazette-schemas', dependencies: ['gazette-errors', 'gazette-session', 'gazette-csrf'] },
);
