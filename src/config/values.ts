import { z } from 'zod';

/** The value kinds environment variables are read as, and how a parser reports a problem. */

export type Add = (variable: string, message: string) => void;

/** Unset or blank reads as undefined; anything else is trimmed. */
export const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

export const integer = (name: string, min: number, max: number) =>
  optionalText.transform((v, ctx) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max} (got "${v}")` });
      return z.NEVER;
    }
    return Number(v);
  }).describe(name);

export const positiveNumber = optionalText.transform((v, ctx) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    ctx.addIssue({ code: 'custom', message: `must be a positive number (got "${v}")` });
    return z.NEVER;
  }
  return n;
});

export const boolean = optionalText.transform((v, ctx) => {
  if (v === undefined) return undefined;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  ctx.addIssue({ code: 'custom', message: `must be true or false (got "${v}")` });
  return z.NEVER;
});

/** A comma-separated list of domains, lower-cased, blanks dropped. */
export const domainList = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((d) => d.trim().toLowerCase())
    .filter(Boolean);

/** The parsed form of an env shape, each variable possibly missing (another one's problem must not hide it). */
export type EnvOf<S extends z.ZodRawShape> = Partial<z.infer<z.ZodObject<S>>>;
