import { z } from 'zod';
import { pathId } from '../../lib/params.js';
import { queryFlag } from '../../lib/query.js';

export const postParams = z.object({ id: pathId('That post does not exist.') });

/** A row of the links table is named by a prefix of its URL's hash (see service.ts). */
export const linkParams = postParams.extend({
  link: z.string().regex(/^[0-9a-f]{16}$/, 'That link is no longer in the draft.'),
});

/** "Check again" asks for a new request even while the cached result is fresh. */
export const checkBody = z.object({
  fresh: z.unknown().optional().transform((v) => v === '1'),
});

/** Flags set by the redirects back to the links page. */
export const linksPageQuery = z.object({ replaced: queryFlag(), checked: queryFlag() });
