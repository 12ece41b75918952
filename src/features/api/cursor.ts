import { z } from 'zod';
import { isId } from '../../lib/params.js';

/**
 * List endpoints page by id with an opaque cursor: the order is stable, and rows added or removed while
 * a client pages never make it skip or repeat one.
 */
export const encodeCursor = (id: number) => Buffer.from(JSON.stringify({ after: id })).toString('base64url');

export const cursorField = z
  .string()
  .max(200)
  .optional()
  .transform((value, ctx) => {
    if (value === undefined || value === '') return 0;
    try {
      const parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as { after?: unknown };
      if (isId(parsed.after)) return parsed.after;
    } catch {
      // Falls through to the message below.
    }
    ctx.addIssue({ code: 'custom', message: 'This cursor is not one Gazette gave out; start without a cursor.' });
    return z.NEVER;
  });

export const limitField = z
  .string()
  .optional()
  .transform((value, ctx) => {
    if (value === undefined || value === '') return 50;
    const n = /^\d{1,3}$/.test(value) ? Number(value) : NaN;
    if (n >= 1 && n <= 100) return n;
    ctx.addIssue({ code: 'custom', message: 'Use a limit from 1 to 100.' });
    return z.NEVER;
  });

/** A page of `rows` fetched with one extra row: `next_cursor` says whether there is more. */
export function page<T extends { id: number }, U>(rows: T[], limit: number, present: (row: T) => U): { data: U[]; next_cursor: string | null } {
  const data = rows.slice(0, limit);
  return { data: data.map(present), next_cursor: rows.length > limit ? encodeCursor(data[data.length - 1]!.id) : null };
}
