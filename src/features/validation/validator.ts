import { domainToUnicode } from 'node:url';
import { domainOfEmail, isValidEmail, normalizeEmail } from '../../lib/email.js';
import { inDomainList, isDisposableDomain } from './disposable.js';
import type { MailDomainChecker, MailDomainVerdict } from './dns-check.js';
import { suggestAddress } from './typos.js';

/** The operator's choices, from the environment and the "Signup protection" page together. */
export interface EmailPolicy {
  disposable: 'reject' | 'hold' | 'allow';
  /** Never disposable, never offered a correction. */
  allowedDomains: readonly string[];
  /** Refused outright, with their subdomains. */
  blockedDomains: readonly string[];
}

/** Why an address is refused; also the reason recorded for the writer. */
export type EmailRefusal = 'invalid' | 'blocked_domain' | 'disposable' | 'no_domain' | 'null_mx';

export type EmailCheck =
  /** `unverified`: DNS did not answer, so the domain is unchecked; `hold`: keep for the writer's review. */
  | { kind: 'ok'; email: string; unverified: boolean; hold: 'disposable' | undefined }
  | { kind: 'typo'; email: string; suggestion: string; code: 'email_typo_suspected'; message: string }
  | { kind: 'refused'; email: string; reason: EmailRefusal; code: string; message: string };

export interface CheckOptions {
  /** The reader chose "keep what I typed" (or the caller never asks, like an import). */
  acceptTypo?: boolean;
}

export type EmailValidator = ReturnType<typeof createEmailValidator>;

/** A domain as a reader typed it: `müller.de`, not `xn--mller-kva.de`. */
const readable = (domain: string) => domainToUnicode(domain) || domain;

function refused(email: string, reason: EmailRefusal, domain: string): EmailCheck {
  const d = readable(domain);
  const words: Record<EmailRefusal, [string, string]> = {
    invalid: ['email_invalid', 'Enter a valid email address, like you@example.com.'],
    blocked_domain: ['email_blocked', 'Addresses on this domain cannot subscribe. Please use another address.'],
    disposable: ['email_disposable', `${d} hands out throwaway addresses that stop working soon. Please use an address you keep.`],
    no_domain: ['email_domain_not_found', `The domain ${d} does not exist. Please check the part after the @.`],
    null_mx: ['email_domain_no_mail', `${d} does not accept email. Please use another address.`],
  };
  const [code, message] = words[reason];
  return { kind: 'refused', email, reason, code, message };
}

/** Local parts in other alphabets need SMTPUTF8 all the way, which mail relays cannot be assumed to speak. */
function invalidMessage(raw: string): string | undefined {
  const at = raw.lastIndexOf('@');
  return at > 0 && /[^\x00-\x7f]/.test(raw.slice(0, at))
    ? 'Only letters A–Z, digits and . _ + - are supported before the @ (the part after it may use any alphabet).'
    : undefined;
}

/**
 * The checks every way in uses (subscribe page, embed, JSON, import, admin add), cheapest first:
 * syntax (with internationalised domains), blocked domains, a typo on a large provider, throwaway
 * providers, and whether the domain can receive mail at all.
 */
export function createEmailValidator(deps: { policy: () => EmailPolicy; blockedByConfig: readonly string[]; domains: MailDomainChecker }) {
  /** Everything but DNS; `undefined` domain means the address is refused already. */
  function offline(raw: string, options: CheckOptions): { check: EmailCheck; needsDns: boolean } {
    const email = normalizeEmail(raw);
    if (!isValidEmail(email)) {
      const check = refused(email, 'invalid', '');
      const special = invalidMessage(raw.trim());
      return { check: special && check.kind === 'refused' ? { ...check, message: special } : check, needsDns: false };
    }
    const policy = deps.policy();
    const domain = domainOfEmail(email);
    if (inDomainList(domain, deps.blockedByConfig) || inDomainList(domain, policy.blockedDomains)) return { check: refused(email, 'blocked_domain', domain), needsDns: false };
    const allowed = inDomainList(domain, policy.allowedDomains);
    if (!allowed && !options.acceptTypo) {
      const suggestion = suggestAddress(email, policy.allowedDomains);
      if (suggestion) {
        return { check: { kind: 'typo', email, suggestion, code: 'email_typo_suspected', message: `Did you mean ${suggestion}?` }, needsDns: false };
      }
    }
    let hold: 'disposable' | undefined;
    if (!allowed && policy.disposable !== 'allow' && isDisposableDomain(domain)) {
      if (policy.disposable === 'reject') return { check: refused(email, 'disposable', domain), needsDns: false };
      hold = 'disposable';
    }
    return { check: { kind: 'ok', email, unverified: false, hold }, needsDns: !allowed };
  }

  function withDns(check: EmailCheck, verdict: MailDomainVerdict): EmailCheck {
    if (check.kind !== 'ok') return check;
    const domain = domainOfEmail(check.email);
    if (verdict === 'no_domain') return refused(check.email, 'no_domain', domain);
    if (verdict === 'null_mx' || verdict === 'no_mail_host') return refused(check.email, 'null_mx', domain);
    return { ...check, unverified: verdict === 'unverified' };
  }

  async function check(raw: string, options: CheckOptions = {}): Promise<EmailCheck> {
    const first = offline(raw, options);
    if (!first.needsDns) return first.check;
    return withDns(first.check, await deps.domains.check(domainOfEmail(first.check.email)));
  }

  /**
   * Many addresses at once (an import batch): each distinct domain is looked up once, a bounded number
   * at a time. Typos are not questioned: nobody is there to answer.
   */
  async function checkMany(raws: readonly string[], concurrency = 16): Promise<EmailCheck[]> {
    const firsts = raws.map((raw) => offline(raw, { acceptTypo: true }));
    const verdicts = await deps.domains.checkMany(firsts.filter((f) => f.needsDns).map((f) => domainOfEmail(f.check.email)), concurrency);
    return firsts.map((f) => (f.needsDns ? withDns(f.check, verdicts.get(domainOfEmail(f.check.email)) ?? 'unverified') : f.check));
  }

  return { check, checkMany };
}
