import { createRequire } from 'node:module';
import { disposableEmailBlocklistSet } from 'disposable-email-domains-js';
import { getDomain } from 'tldts';

const require = createRequire(import.meta.url);
/** The list's package version, shown to the writer so a stale list can be seen (and updated by `npm update`). */
export const DISPOSABLE_LIST_VERSION = `disposable-email-domains-js ${(require('disposable-email-domains-js/package.json') as { version: string }).version}`;

const DISPOSABLE = disposableEmailBlocklistSet();
export const DISPOSABLE_LIST_SIZE = DISPOSABLE.size;

/** Whether `domain` is one of `list` or a subdomain of one. */
export function inDomainList(domain: string, list: readonly string[]): boolean {
  return list.some((d) => domain === d || domain.endsWith(`.${d}`));
}

/**
 * Whether `domain` belongs to a throwaway-mailbox provider: the host itself or its registrable domain
 * (`x.mailinator.com` → `mailinator.com`) is on the bundled list.
 */
export function isDisposableDomain(domain: string): boolean {
  if (DISPOSABLE.has(domain)) return true;
  const registrable = getDomain(domain, { allowPrivateDomains: true });
  return registrable !== null && DISPOSABLE.has(registrable);
}
