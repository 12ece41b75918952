import { z } from 'zod';
import { isValidEmail } from '../../lib/email.js';
import { idField } from '../../lib/params.js';
import { cleanName } from './names.js';

const text = (max: number) => z.preprocess((v) => (typeof v === 'string' ? v : ''), z.string().max(max * 4));

export const subscribeSchema = z.object({
  email: z
    .preprocess((v) => (typeof v === 'string' ? v.trim() : ''), z.string())
    .refine((v) => v.length > 0, 'Enter your email address.')
    .refine((v) => v.length === 0 || isValidEmail(v), 'Enter a valid email address, like you@example.com.'),
  name: text(100).transform((v) => cleanName(v)),
  website: text(500).default(''),
  t: z.preprocess((v) => (typeof v === 'string' ? v : undefined), z.string().max(200).optional()),
  source: z.preprocess((v) => (v === 'embed' ? 'embed' : undefined), z.literal('embed').optional()),
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
