import { outgoingAddressPolicy } from '../../lib/safe-fetch/address-policy.js';
import { createSafeFetch, type HostResolver, type SafeFetch } from '../../lib/safe-fetch/safe-fetch.js';

/** What the composition root may change about outgoing requests (tests point them at loopback). */
export interface OutgoingOptions {
  /** Host name lookups (default: the system's resolver). */
  resolve?: HostResolver;
  /** Extra trusted certificate authorities, PEM. */
  ca?: string[];
  /** One link's deadline, redirects included (default 5 s). */
  timeoutMs?: number;
}

/**
 * The client link checks go through: an honest User-Agent naming the server (site owners can see who is
 * asking), a short deadline per link, and no body read at all: the status line is the answer.
 */
export function linkCheckFetch(options: { baseUrl: string; allowPrivate: boolean } & OutgoingOptions): SafeFetch {
  return createSafeFetch({
    userAgent: `GazetteLinkCheck/1 (+${options.baseUrl})`,
    policy: outgoingAddressPolicy({ allowPrivate: options.allowPrivate }),
    timeoutMs: options.timeoutMs ?? 5000,
    maxRedirects: 5,
    maxBodyBytes: 0,
    ...(options.resolve ? { resolve: options.resolve } : {}),
    ...(options.ca ? { ca: options.ca } : {}),
  });
}
