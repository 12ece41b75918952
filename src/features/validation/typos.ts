import { run } from '@zootools/email-spell-checker';
import { KNOWN_PROVIDERS } from './known-domains.js';

/**
 * "Did you mean …?" for an address whose domain looks like a slip on a large provider's
 * (`gmial.com` → `gmail.com`). Never applied by itself: the reader chooses. A domain the operator lists
 * as their own (or as allowed) is never questioned; neither is any domain outside the known providers'
 * neighbourhood (`gazette.test` is not a typo of `gazette.de`).
 */
export function suggestAddress(email: string, trusted: readonly string[] = []): string | undefined {
  const at = email.lastIndexOf('@');
  const domain = email.slice(at + 1);
  if (KNOWN_PROVIDERS.has(domain) || trusted.includes(domain)) return undefined;
  // A name of three letters or fewer is one or two edits from many others (x.com is not a slip for gmx.com).
  if ((domain.split('.')[0] ?? '').length < 4) return undefined;
  const domains = [...KNOWN_PROVIDERS, ...trusted];
  const suggestion = run({ email, domains });
  if (!suggestion || suggestion.domain === domain) return undefined;
  if (!KNOWN_PROVIDERS.has(suggestion.domain) && !trusted.includes(suggestion.domain)) return undefined;
  return `${email.slice(0, at)}@${suggestion.domain}`;
}
