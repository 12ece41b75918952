import { z } from 'zod';

/**
 * Row ids are `integer` columns: Postgres refuses a value above 2^31−1 with an error rather than finding
 * nothing, so an id is checked here, at the edge, before it can reach a query.
 */
export const MAX_ID = 2_147_483_647;

/** Digits only, no sign, no leading zero, no exponent: the one spelling of an id we print. */
const ID_PATTERN = /^[1-9]\d{0,9}$/;

/** The id a string spells, or null when it is not an id (malformed, zero, or beyond the column's range). */
export function parseId(value: unknown): number | null {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) return null;
  const id = Number(value);
  return id <= MAX_ID ? id : null;
}

/** Whether a number (from a decoded cursor, say) can be a row id. */
export function isId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= MAX_ID;
}

/**
 * A form, query or JSON field holding an id (a string, or a JSON number; surrounding spaces allowed), with
 * the message shown beside the field when it is not one.
 */
export const idField = (message: string) =>
  z.union([z.string(), z.number()], { error: message }).transform((value, ctx) => {
    const id = parseId(String(value).trim());
    if (id === null) {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
    return id;
  });

/** Like idField, but empty or absent means "none" (null): a filter left on "all". */
export const optionalIdField = (message: string) =>
  z.union([z.string(), z.number()], { error: message }).optional().transform((value, ctx) => {
    if (value === undefined || value === '') return null;
    const id = parseId(String(value).trim());
    if (id === null) {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
    return id;
  });

/**
 * A path segment holding an id, for a route's `params` schema. A segment that cannot be an id names no
 * row, so it fails with `message`, which the route answers as the same 404 as an id that is unknown.
 */
export const pathId = (message: string) =>
  z.string().transform((value, ctx) => {
    const id = parseId(value);
    if (id === null) {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
    return id;
  });
