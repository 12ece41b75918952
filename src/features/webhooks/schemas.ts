import { z } from 'zod';
import { pathId } from '../../lib/params.js';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from './events.js';

const isEventType = (t: string): t is WebhookEventType => (WEBHOOK_EVENT_TYPES as readonly string[]).includes(t);

const asList = (v: unknown) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * Where events may be sent: http or https, no user name or password in the address (they would be logged
 * and shown), no fragment. Private and loopback targets are refused when each request is made (the address
 * a name resolves to can change), unless the operator allows them.
 */
export const webhookUrl = z
  .string({ error: 'Enter the address events are sent to.' })
  .trim()
  .min(1, 'Enter the address events are sent to.')
  .max(2000, 'Use an address of at most 2,000 characters.')
  .superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'Enter a full address, like https://example.com/hooks/gazette.' });
      return;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') ctx.addIssue({ code: 'custom', message: 'Use an http:// or https:// address.' });
    else if (url.username || url.password) ctx.addIssue({ code: 'custom', message: 'Leave the user name and password out of the address; use the signing secret to check that events come from Gazette.' });
    else if (url.hash) ctx.addIssue({ code: 'custom', message: 'Leave out the part after #: it is never sent to the server.' });
  });

export const endpointSchema = z.object({
  url: webhookUrl,
  description: z.string().trim().max(200, 'Use at most 200 characters.').default(''),
  event_types: z.preprocess(
    asList,
    z
      .array(z.string(), { error: 'Choose events from the list.' })
      .min(1, 'Choose at least one event to send.')
      .max(WEBHOOK_EVENT_TYPES.length, 'Choose events from the list.')
      .refine((types) => types.every(isEventType), 'Choose events from the list.')
      .transform((types) => [...new Set(types.filter(isEventType))]),
  ),
});

export const endpointParams = z.object({ id: pathId('That webhook endpoint does not exist.') });
export const deliveryParams = z.object({ id: pathId('That webhook endpoint does not exist.'), deliveryId: pathId('That event does not exist.') });
