import fp from 'fastify-plugin';
import { BadRequestError } from '../lib/errors.js';

/** Control characters have no place in a path segment. */
const PATH_CONTROLS = /[\x00-\x1f\x7f]/;
/**
 * C0 controls other than tab, LF and CR (which a textarea sends) in a query or a form. NUL is the one that
 * matters most: Postgres refuses it in text, so one NUL anywhere would otherwise become a 500.
 */
const TEXT_CONTROLS = /[\x00-\x08\x0b\x0c\x0e-\x1f]/;
const MAX_DEPTH = 16;

export const CONTROL_MESSAGE = 'Remove the control characters (such as NUL bytes) from this value.';

/** Whether a value typed into a form (or a file name) holds a control character it cannot mean. */
export function hasControlCharacters(value: string): boolean {
  return TEXT_CONTROLS.test(value);
}

/**
 * The first place (a dotted path: `email`, `tags.2`) in a parsed query or body whose name or string value
 * matches `pattern`, or null. Nesting beyond any form we render is refused as such.
 */
function badField(value: unknown, pattern: RegExp, path: string, depth = 0): string | null {
  if (typeof value === 'string') return pattern.test(value) ? path || 'body' : null;
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return null;
  if (depth >= MAX_DEPTH) return path || 'body';
  for (const [key, item] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (pattern.test(key)) return at;
    const found = badField(item, pattern, at, depth + 1);
    if (found) return found;
  }
  return null;
}

/**
 * One check at the edge, before any handler, for every route: path parameters, the query and parsed
 * bodies (urlencoded or JSON) carry no control characters. Multipart uploads are parsed by their handler,
 * which checks its fields and file name with `hasControlCharacters`.
 */
export default fp(
  async (app) => {
    app.addHook('preValidation', async (request) => {
      if (request.is404) return;
      const param = badField(request.params, PATH_CONTROLS, '');
      if (param) throw new BadRequestError({ [param]: CONTROL_MESSAGE }, 'This address contains characters that cannot be part of a link.');
      const query = badField(request.query, TEXT_CONTROLS, '');
      if (query) throw new BadRequestError({ [query]: CONTROL_MESSAGE }, 'This address contains characters that cannot be part of a link.');
      const body = badField(request.body, TEXT_CONTROLS, '');
      if (body) throw new BadRequestError({ [body]: CONTROL_MESSAGE }, 'Some of what was sent contains characters that cannot be stored.');
    });
  },
  { name: 'gazette-input-guard', dependencies: ['gazette-errors'] },
);
