import { z } from 'zod';
import { isValidEmail } from '../../lib/email.js';
import { pathId } from '../../lib/params.js';

const NO_LINK = 'This link is not valid.';

export const paidTokenParams = z.object({ token: z.string().max(200, NO_LINK), paidId: pathId(NO_LINK) });
export const newsletterIdParams = z.object({ id: pathId('There is no such newsletter.') });
export const subscriberIdParams = z.object({ id: pathId('That subscriber does not exist.') });
export const postIdParams = z.object({ id: pathId('That post does not exist.') });
export const paidSlugParams = z.object({ slug: z.string().max(100) });

const trimmed = z.preprocess((v) => (typeof v === 'string' ? v.trim() : ''), z.string().max(200));

export const checkoutSchema = z.object({
  email: trimmed.refine((v) => v.length > 0, 'Enter your email address.').refine((v) => v.length === 0 || isValidEmail(v), 'Enter a valid email address, like you@example.com.'),
  plan: z.preprocess((v) => (typeof v === 'string' ? v : ''), z.enum(['monthly', 'yearly'], { error: 'Choose monthly or yearly.' })),
});

export const pauseSchema = z.object({
  months: z.preprocess((v) => (typeof v === 'string' ? Number(v) : v), z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)], { error: 'Choose how long to pause.' })),
});

/** "5", "5.5" or "5.00" in the currency's main unit → 500 cents; empty → not offered. */
const amount = z.preprocess(
  (v) => (typeof v === 'string' ? v.trim().replace(',', '.') : ''),
  z
    .string()
    .refine((v) => v === '' || (/^\d{1,6}(\.\d{1,2})?$/.test(v) && Number(v) >= 0.5), 'Enter an amount like 5 or 4.50 (at least 0.50), or leave it empty.')
    .transform((v) => (v === '' ? null : Math.round(Number(v) * 100))),
);

export const planSchema = z
  .object({
    currency: z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : ''), z.string().regex(/^[a-z]{3}$/, 'Enter a three-letter currency code, like eur or usd.')),
    monthly: amount,
    yearly: amount,
  })
  .refine((p) => p.monthly !== null || p.yearly !== null, { message: 'Set a monthly or a yearly price (or both).', path: ['monthly'] });

export const tierSchema = z.object({
  tier: z.preprocess((v) => (typeof v === 'string' ? v : ''), z.enum(['everyone', 'free', 'paid'], { error: 'Choose who receives this post.' })),
});
