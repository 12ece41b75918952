import { z } from 'zod';
import { isValidEmail, normalizeEmail } from '../../lib/email.js';
import { PASSWORD_MAX_LENGTH } from '../../lib/passwords.js';

const email = z
  .string({ error: 'Enter your email address.' })
  .trim()
  .min(1, 'Enter your email address.')
  .max(254, 'That email address is too long.')
  .refine(isValidEmail, 'Enter a valid email address, like you@example.com.')
  .transform(normalizeEmail);

const password = z.string({ error: 'Enter a password.' }).min(1, 'Enter a password.').max(PASSWORD_MAX_LENGTH, 'That password is too long.');

export const setupSchema = z.object({
  name: z.string({ error: 'Enter your name.' }).trim().min(1, 'Enter your name.').max(100, 'Use at most 100 characters.'),
  email,
  password,
});

export const loginSchema = z.object({
  email: z.string({ error: 'Enter your email address.' }).trim().min(1, 'Enter your email address.').max(254).transform(normalizeEmail),
  password,
  next: z.string().optional(),
});

export const changePasswordSchema = z.object({
  current_password: z.string({ error: 'Enter your current password.' }).min(1, 'Enter your current password.').max(PASSWORD_MAX_LENGTH),
  new_password: password,
});

export const forgotPasswordSchema = z.object({ email });

export const resetPasswordSchema = z.object({ password });
