import { outgoingAddressPolicy } from '../../lib/safe-fetch/address-policy.js';
import { createSafeFetch, type SafeFetch } from '../../lib/safe-fetch/safe-fetch.js';
import type { OutgoingOptions } from '../links/client.js';

/** Each attempt's deadline: receivers are asked to answer fast and do their work afterwards. */
export const WEBHOOK_TIMEOUT_MS = 15_000;

/**
 * The client webhooks go through: the same SSRF rules as link checks (every address checked and pinned),
 * no redirects followed, and only the start of the receiver's answer read, for the attempt log.
 */
export function webhookFetch(options: { allowPrivate: boolean; userAgent: string } & OutgoingOptions): SafeFetch {
  return createSafeFetch({
    userAgent: options.userAgent,
    policy: outgoingAddressPolicy({ allowPrivate: options.allowPrivate }),
    timeoutMs: WEBHOOK_TIMEOUT_MS,
    maxRedirects: 0,
    maxBodyBytes: 1024,
    ...(options.resolve ? { resolve: options.resolve } : {}),
    ...(options.ca ? { ca: options.ca } : {}),
  });
}
