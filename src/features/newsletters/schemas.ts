import { z } from 'zod';
import { isValidEmail, normalizeEmail } from '../../lib/email.js';
import { canonicalTimeZone } from '../../lib/time-zones.js';

export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$/;

const checkbox = z.preprocess((v) => v === 'on' || v === 'true' || v === '1' || v === true, z.boolean());

/** The zone list's labels read "(UTC+01:00) Europe/Paris"; a label typed or pasted whole counts as its zone. */
const OFFSET_PREFIX = /^\(UTC[+-]\d{2}:\d{2}\)\s*/;

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
  time_zone: z
    .string()
    .trim()
    .default('UTC')
    .transform((v, ctx) => {
      const zone = canonicalTimeZone(v.replace(OFFSET_PREFIX, ''));
      if (zone) return zone;
      ctx.addIssue({ code: 'custom', message: 'Choose a time zone from the list, like UTC, Europe/Paris or America/New_York.' });
      return z.NEVER;
    }),
  double_opt_in: checkbox,
  archive_public: checkbox,
  is_default: checkbox,
  tracking_mode: z.preprocess(
    (v) => v ?? 'off',
    z.enum(['off', 'aggregate', 'subscriber'], { error: 'Choose off, aggregate counts or per subscriber.' }),
  ),
});

export type NewsletterInput = z.infer<typeof newsletterSchema>;
