import type { z } from 'zod';
import { ValidationError } from './errors.js';

/**
 * Validates a form or JSON body with a zod schema. On failure throws a ValidationError whose fields map
 * each form field to one message, ready to be shown beside the field.
 */
export function parseForm<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  throw new ValidationError(fieldsOf(result.error));
}

/** Each field's first message (a dotted path: `tags.2`); an issue about the whole form goes under `_form`. */
export function fieldsOf(error: z.ZodError): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    const key = issue.path.length > 0 ? issue.path.join('.') : '_form';
    fields[key] ??= issue.message;
  }
  return fields;
}

/** Form values echoed back into a re-rendered form: strings only, passwords never. */
export function echoFields(body: unknown, omit: string[] = ['password']): Record<string, string> {
  const out: Record<string, string> = {};
  if (body && typeof body === 'object') {
    for (const [k, v] of Object.entries(body)) {
      if (typeof v === 'string' && !omit.some((o) => k.toLowerCase().includes(o))) out[k] = v;
    }
  }
  return out;
}
