import { z } from 'zod';
import { isValidEmail, normalizeEmail } from '../../lib/email.js';

export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$/;

const checkbox = z.preprocess((v) => v === 'on' || v === 'true' || v === '1' || v === true, z.boolean());

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const newsletterSchema = z.object({
  name: z.string({ error: 'Enter a name.' }).trim().min(1, 'Enter a name.').max(100, 'Use at most 100 characters.'),
  slug: z
    .string({ error: 'Enter a short name for the address.' })
    .trim()
    .toLowerCase()
    .regex(SLUG_PATTERN, 'Use 1–50 lowercase letters, digits and dashes (not at the start or end).'),
  description: z.string().trim().max(1000, 'Use at most 1,000 characters.').default(''),
  from_name: z.string().trim().max(100, 'Use at most 100 characters.').regex(/^[^\r\n<>"]*$/, 'Leave out quotes and angle brackets.').default(''),
  from_email: z
    .string({ error: 'Enter the address your newsletter is sent from.' })
    .trim()
    .min(1, 'Enter the address your newsletter is sent from.')
    .refine(isValidEmail, 'Enter a valid email address, like news@example.com.')
    .transform(normalizeEmail),
  reply_to: z
    .string()
    .trim()
    .default('')
    .refine((v) => v === '' || isValidEmail(v), 'Enter a valid email address, or leave this empty.')
    .transform((v) => (v === '' ? null : normalizeEmail(v))),
  postal_address: z.string().trim().max(500, 'Use at most 500 characters.').default(''),
  time_zone: z.string().trim().default('UTC').refine(isTimeZone, 'Choose a time zone like Europe/Paris or America/New_York.'),
  double_opt_in: checkbox,
  archive_public: checkbox,
  is_default: checkbox,
});

export type NewsletterInput = z.infer<typeof newsletterSchema>;
