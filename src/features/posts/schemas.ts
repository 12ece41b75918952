import { z } from 'zod';
import { isValidEmail, normalizeEmail } from '../../lib/email.js';
import { idField, parseId } from '../../lib/params.js';
import { POST_STATUSES } from '../../sending/states.js';

export const POST_SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$/;
export const MAX_BODY_CHARS = 200_000;
export const MAX_TEST_RECIPIENTS = 5;

/** One line: a subject is a header, so line breaks are folded to spaces rather than refused. */
const oneLine = (max: number) =>
  z
    .string()
    .default('')
    .transform((v) => v.replace(/[\r\n\t]+/g, ' ').trim())
    .refine((v) => v.length <= max, `Use at most ${max} characters.`);

export const newPostSchema = z.object({
  newsletter_id: idField('Choose a newsletter.'),
  subject: oneLine(200),
});

export const postFormSchema = z.object({
  subject: oneLine(200),
  slug: z
    .string()
    .default('')
    .transform((v) => v.trim().toLowerCase())
    .refine((v) => v === '' || POST_SLUG_PATTERN.test(v), 'Use lowercase letters, digits and dashes (not at the start or end), at most 80.'),
  preheader: oneLine(300),
  body: z
    .string()
    .default('')
    .transform((v) => v.replace(/\r\n?/g, '\n'))
    .refine((v) => v.length <= MAX_BODY_CHARS, `The body is too long (at most ${MAX_BODY_CHARS.toLocaleString('en')} characters).`),
});
export type PostFormInput = z.infer<typeof postFormSchema>;

export const scheduleSchema = z.object({
  scheduled_at: z.string({ error: 'Choose a date and time.' }).trim().min(1, 'Choose a date and time.'),
});

export const testSendSchema = z.object({
  recipients: z
    .string({ error: 'Enter at least one address.' })
    .transform((v) => v.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean))
    .refine((list) => list.length > 0, 'Enter at least one address.')
    .refine((list) => list.length <= MAX_TEST_RECIPIENTS, `Send a test to at most ${MAX_TEST_RECIPIENTS} addresses.`)
    .refine((list) => list.every(isValidEmail), 'Enter valid email addresses, separated by commas.')
    .transform((list) => [...new Set(list.map(normalizeEmail))]),
});

const idList = z.preprocess(
  (v) => (v === undefined || v === '' ? [] : Array.isArray(v) ? v : [v]),
  z.array(idField('Choose tags from the list.')).max(200),
);

export const audienceSchema = z.object({
  include_tags: idList,
  exclude_tags: idList,
});

export const listQuerySchema = z.object({
  status: z.enum(POST_STATUSES as [string, ...string[]]).optional().catch(undefined),
  newsletter: z.preprocess((v) => parseId(v) ?? undefined, z.number().optional()),
});
