import { headerValues, type HeaderField } from './mime.js';

/**
 * VERP (variable envelope return path): when each message's envelope sender is
 * `bounces+<token>@bounce.example.com`, the bounce comes back *to* that address, so the token names the
 * delivery even when the bounce quotes nothing of the original. `+` and `-` are both accepted as the
 * delimiter, since some receivers refuse plus addresses.
 */

export interface VerpBase {
  /** The local part before the delimiter (`bounces`), compared case-insensitively. */
  localPart: string;
  /** When set, only addresses at this domain count. */
  domain?: string | undefined;
}

/** The token of `address` when it is a VERP address of `base`; tokens are [A-Za-z0-9._=] only. */
export function verpTokenOf(address: string, base: VerpBase): string | undefined {
  const at = address.lastIndexOf('@');
  if (at <= 0) return undefined;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1).toLowerCase();
  if (base.domain && domain !== base.domain.toLowerCase()) return undefined;
  const prefix = base.localPart.toLowerCase();
  if (local.length <= prefix.length + 1 || local.slice(0, prefix.length).toLowerCase() !== prefix) return undefined;
  const delimiter = local[prefix.length];
  if (delimiter !== '+' && delimiter !== '-') return undefined;
  const token = local.slice(prefix.length + 1);
  return /^[A-Za-z0-9._=]{1,200}$/.test(token) ? token : undefined;
}

/** Where a bounce says whom it was delivered to: the receiving MTA's headers first, then To. */
const RECIPIENT_HEADERS = ['delivered-to', 'x-original-to', 'envelope-to', 'x-envelope-to', 'to'];

/** The VERP token in the bounce's own recipient headers, if any. */
export function verpTokenIn(headers: HeaderField[], base: VerpBase): string | undefined {
  for (const name of RECIPIENT_HEADERS) {
    for (const value of headerValues(headers, name)) {
      // Tokens may be case-sensitive, so the address is taken as written, not through addressOf.
      for (const m of value.matchAll(/<?([^\s<>"(),;:]+@[^\s<>"(),;:]+?)>?(?=$|[\s,;)>])/g)) {
        const token = verpTokenOf(m[1]!, base);
        if (token) return token;
      }
    }
  }
  return undefined;
}
