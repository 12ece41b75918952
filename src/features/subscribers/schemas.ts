import { z } from 'zod';
import { isValidEmail, normalizeEmail } from '../../lib/email.js';
import { ValidationError } from '../../lib/errors.js';
import { idField } from '../../lib/params.js';

export const email = z
  .string({ error: 'Enter an email address.' })
  .trim()
  .min(1, 'Enter an email address.')
  .max(254, 'That email address is too long.')
  .refine(isValidEmail, 'Enter a valid email address, like reader@example.com.')
  .transform(normalizeEmail);

export const name = z
  .string()
  .max(200, 'Use at most 200 characters.')
  .optional()
  .transform((v) => (v ?? '').replace(/\s+/g, ' ').trim());

export const addSubscriberSchema = z.object({
  email,
  name,
  newsletter_id: idField('Choose a newsletter.'),
  status: z.enum(['active', 'pending'], { error: 'Choose whether the address is already confirmed.' }),
  /** Add an address the checks took for a typo, as typed. */
  accept_typo: z.preprocess((v) => v === '1' || v === 'on', z.boolean()),
});

export const editSubscriberSchema = z.object({ email, name });

export const TAG_MAX = 50;
export const tagName = z
  .string({ error: 'Enter a tag.' })
  .transform((v) => v.replace(/\s+/g, ' ').trim())
  .pipe(z.string().min(1, 'Enter a tag.').max(TAG_MAX, `Use at most ${TAG_MAX} characters for a tag.`));

export const tagSchema = z.object({ tag: tagName });

export const unsubscribeSchema = z.object({
  newsletter_id: z.union([z.literal('all'), idField('Choose a newsletter.')], { error: 'Choose a newsletter.' }),
});

export const bulkSchema = z.object({
  action: z.enum(['tag', 'untag'], { error: 'Choose what to do.' }),
  // Not "tag": that name is the list filter's tag id, which travels in the same form.
  tag_name: tagName,
  scope: z.enum(['selected', 'filter'], { error: 'Choose which subscribers.' }),
  ids: z.preprocess(
    (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]),
    z.array(idField('The selection is not valid.')).max(1000, 'Select at most 1,000 rows, or apply to the whole filter.'),
  ),
});

export const ATTRIBUTE_LIMITS = { keys: 50, keyLength: 64, valueLength: 1000 };
const ATTRIBUTE_KEY = /^[\p{L}\p{N} _.\-]+$/u;

/**
 * Attributes arrive as parallel `key`/`value` lists (one row per attribute, plus empty rows to add).
 * An empty key with an empty value is an unused row; an empty value removes the key. A value left as
 * it was keeps its original JSON type (an imported number stays a number).
 */
export function parseAttributes(body: unknown, previous: Record<string, unknown>): Record<string, unknown> {
  const b = (body ?? {}) as Record<string, unknown>;
  const list = (v: unknown) => (Array.isArray(v) ? v : v === undefined ? [] : [v]).map((x) => (typeof x === 'string' ? x : ''));
  const keys = list(b.key);
  const values = list(b.value);
  // Without a prototype, "constructor" or "__proto__" is a name like any other, not one already used.
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const fields: Record<string, string> = {};
  keys.forEach((rawKey, i) => {
    const key = rawKey.trim();
    const value = (values[i] ?? '').trim();
    if (!key && !value) return;
    if (!key) fields[`key.${i}`] = 'Give this value a name.';
    else if (key.length > ATTRIBUTE_LIMITS.keyLength) fields[`key.${i}`] = `Use at most ${ATTRIBUTE_LIMITS.keyLength} characters.`;
    else if (!ATTRIBUTE_KEY.test(key)) fields[`key.${i}`] = 'Use letters, digits, spaces, dots, dashes or underscores.';
    else if (Object.hasOwn(out, key)) fields[`key.${i}`] = 'This name is used twice.';
    else if (value.length > ATTRIBUTE_LIMITS.valueLength) fields[`value.${i}`] = `Use at most ${ATTRIBUTE_LIMITS.valueLength} characters.`;
    else if (value) out[key] = Object.hasOwn(previous, key) && displayValue(previous[key]) === value ? previous[key] : value;
  });
  if (Object.keys(out).length > ATTRIBUTE_LIMITS.keys) fields._form = `Keep at most ${ATTRIBUTE_LIMITS.keys} attributes.`;
  if (Object.keys(fields).length > 0) throw new ValidationError(fields);
  return out;
}

/** How an attribute value shows in a form field and in exports. */
export function displayValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
