import { promises as dns } from 'node:dns';
import type { Clock } from '../../lib/clock.js';
import { KNOWN_PROVIDERS } from './known-domains.js';

/**
 * Whether a domain can receive mail, per RFC 5321 §5.1 and RFC 7505:
 * - `ok`: it has MX records, or none but an address record (the implicit MX);
 * - `null_mx`: its only MX is `0 .`, the domain's own statement that it takes no mail;
 * - `no_mail_host`: it exists but has neither MX nor A/AAAA records;
 * - `no_domain`: NXDOMAIN;
 * - `unverified`: DNS failed or did not answer within the budget. Such a sign-up goes through, flagged:
 *   a slow or broken resolver must never keep a reader waiting or lose a real subscriber.
 */
export type MailDomainVerdict = 'ok' | 'null_mx' | 'no_mail_host' | 'no_domain' | 'unverified';

export interface MailDomainChecker {
  check(domain: string): Promise<MailDomainVerdict>;
  /** Each distinct domain once, at most `concurrency` lookups at a time (imports). */
  checkMany(domains: Iterable<string>, concurrency?: number): Promise<Map<string, MailDomainVerdict>>;
  /** Lookups sent to DNS so far (not served from the cache); for tests and the bench. */
  readonly lookups: number;
}

export interface MailDomainCheckerOptions {
  clock: Clock;
  /** Off: every domain is `ok` without a lookup (air-gapped installs). */
  enabled: boolean;
  /** The whole check's budget, MX and fallback together. */
  timeoutMs: number;
  servers?: string[] | undefined;
  cacheSize?: number;
}

/** Good answers change rarely; bad ones may be fixed soon; a failing resolver is retried within a minute. */
const TTL_MS: Record<MailDomainVerdict, number> = { ok: 60 * 60_000, null_mx: 5 * 60_000, no_mail_host: 5 * 60_000, no_domain: 5 * 60_000, unverified: 60_000 };

const errorCode = (err: unknown) => (err as { code?: string }).code;

export function createMailDomainChecker(options: MailDomainCheckerOptions): MailDomainChecker {
  const { clock, timeoutMs } = options;
  const cacheSize = options.cacheSize ?? 10_000;
  // c-ares gives up by itself at the budget, so an abandoned lookup does not linger.
  const resolver = new dns.Resolver({ timeout: timeoutMs, tries: 1 });
  if (options.servers?.length) resolver.setServers(options.servers);
  const cache = new Map<string, { verdict: MailDomainVerdict; until: number }>();
  const inFlight = new Map<string, Promise<MailDomainVerdict>>();
  let lookups = 0;

  async function lookup(domain: string): Promise<MailDomainVerdict> {
    lookups++;
    try {
      const records = await resolver.resolveMx(domain);
      const nullMx = records.length > 0 && records.every((r) => r.exchange === '' || r.exchange === '.');
      if (nullMx) return 'null_mx';
      return records.length > 0 ? 'ok' : await addressFallback(domain);
    } catch (err) {
      const code = errorCode(err);
      if (code === dns.NOTFOUND) return 'no_domain';
      if (code === dns.NODATA) return addressFallback(domain);
      return 'unverified';
    }
  }

  async function addressFallback(domain: string): Promise<MailDomainVerdict> {
    const answers = await Promise.allSettled([resolver.resolve4(domain), resolver.resolve6(domain)]);
    if (answers.some((a) => a.status === 'fulfilled' && a.value.length > 0)) return 'ok';
    const codes = answers.map((a) => (a.status === 'rejected' ? errorCode(a.reason) : dns.NODATA));
    if (codes.every((c) => c === dns.NODATA)) return 'no_mail_host';
    if (codes.some((c) => c === dns.NOTFOUND)) return 'no_domain';
    return 'unverified';
  }

  function withinBudget(work: Promise<MailDomainVerdict>): Promise<MailDomainVerdict> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<MailDomainVerdict>((resolve) => {
      timer = setTimeout(() => resolve('unverified'), timeoutMs);
      timer.unref();
    });
    return Promise.race([work, late]).finally(() => clearTimeout(timer));
  }

  function remember(domain: string, verdict: MailDomainVerdict): void {
    if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
    cache.set(domain, { verdict, until: clock.now() + TTL_MS[verdict] });
  }

  async function check(domain: string): Promise<MailDomainVerdict> {
    if (!options.enabled || KNOWN_PROVIDERS.has(domain)) return 'ok';
    const cached = cache.get(domain);
    if (cached && cached.until > clock.now()) {
      // Least recently used goes first: a hit moves the entry to the back.
      cache.delete(domain);
      cache.set(domain, cached);
      return cached.verdict;
    }
    // Simultaneous sign-ups on one domain share one lookup.
    let pending = inFlight.get(domain);
    if (!pending) {
      pending = withinBudget(lookup(domain)).then((verdict) => {
        remember(domain, verdict);
        return verdict;
      });
      pending.finally(() => inFlight.delete(domain)).catch(() => {});
      inFlight.set(domain, pending);
    }
    return pending;
  }

  async function checkMany(domains: Iterable<string>, concurrency = 16): Promise<Map<string, MailDomainVerdict>> {
    const queue = [...new Set(domains)];
    const out = new Map<string, MailDomainVerdict>();
    const worker = async () => {
      for (let d = queue.shift(); d !== undefined; d = queue.shift()) out.set(d, await check(d));
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
    return out;
  }

  return {
    check,
    checkMany,
    get lookups() {
      return lookups;
    },
  };
}
