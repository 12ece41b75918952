import { z } from 'zod';
import { parseId } from './params.js';

/**
 * Pieces of a route's `querystring` schema. Query values come from links the app prints; one edited by
 * hand or repeated (`?a=1&a=2` arrives as an array) reads as "not given" rather than refusing the page.
 */

/** A value read as text when it is one. */
export const queryText = z.unknown().optional().transform((value) => (typeof value === 'string' ? value : undefined));

/** A flag set by a redirect (`?saved=1`): true only for exactly `on`. */
export const queryFlag = (on = '1') => z.unknown().optional().transform((value) => value === on);

/** An id (a page cursor, a filter), or undefined when the value is not one. */
export const queryId = z.unknown().optional().transform((value) => parseId(value) ?? undefined);

/** One of `values`, or undefined. */
export const queryChoice = <T extends string>(values: readonly T[]) =>
  z.unknown().optional().transform((value) => values.find((v) => v === value));
