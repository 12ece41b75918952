import { z } from 'zod';
import { isValidEmail } from '../../lib/email.js';
import { idField } from '../../lib/params.js';
import { cleanName } from './names.js';

const text = (max: number) => z.preprocess((v) => (typeof v === 'string' ? v : ''), z.string().max(max * 4));

const optionalToken = z.preprocess((v) => (typeof v === 'string' && v !== '' ? v : undefined), z.string().max(20_000, 'The check did not finish properly; please try again.').optional());

export const subscribeSchema = z.object({
  email: z
    .preprocess((v) => (typeof v === 'string' ? v.trim() : ''), z.string())
    .refine((v) => v.length > 0, 'Enter your email address.')
    .refine((v) => v.length === 0 || isValidEmail(v), 'Enter a valid email address, like you@example.com.'),
  name: text(100).transform((v) => cleanName(v)),
  website: text(500).default(''),
  t: z.preprocess((v) => (typeof v === 'string' ? v : undefined), z.string().max(200).optional()),
  source: z.preprocess((v) => (v === 'embed' ? 'embed' : undefined), z.literal('embed').optional()),
  /** "Use <suggestion>" after a typo suggestion: taken only while the field still holds what was typed. */
  use_suggestion: z.preprocess((v) => v === '1', z.boolean()),
  typed: optionalToken,
  suggestion: optionalToken,
  /** "Keep what I typed" after a typo suggestion. */
  accept_typo: z.preprocess((v) => v === '1' || v === 'true' || v === true || v === 1, z.boolean()),
  // The challenge, when one is asked: ALTCHA's payload, or a captcha provider's token.
  altcha: optionalToken,
  'cf-turnstile-response': optionalToken,
  'h-captcha-response': optionalToken,
  /** The unchecked-by-default "let the writer see when I open or click" box (per-subscriber tracking). */
  tracking_consent: z.preprocess((v) => v === 'on' || v === '1' || v === 'true' || v === true, z.boolean()),
});

export const preferencesSchema = z.object({
  name: text(100).transform((v) => cleanName(v)),
  newsletters: z
    .preprocess((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]), z.array(idField('Choose newsletters from the list.')))
    .default([]),
  action: z.preprocess((v) => (v === 'unsubscribe_all' ? v : 'save'), z.enum(['save', 'unsubscribe_all'])),
  /** Newsletters whose per-subscriber tracking the reader allows (the boxes they left ticked). */
  tracking: z.preprocess((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]), z.array(idField('Choose newsletters from the list.'))).default([]),
});
