import type { LinkOutcome } from '../../db/tables/link-checks.js';
import { SafeFetchError, type SafeFetch, type SafeResponse } from '../../lib/safe-fetch/safe-fetch.js';
import { createLimiter, type Limiter } from './limiter.js';

/**
 * Checks one web address the way a reader's click would go: HEAD first (cheap), GET when the site does not
 * answer HEAD properly (many answer 403, 404 or 405 to HEAD and 200 to GET), redirects followed by the
 * safe client, and the answer turned into an outcome a writer understands.
 */

export interface LinkCheckResult {
  outcome: LinkOutcome;
  httpStatus: number | null;
  finalUrl: string | null;
  redirects: number;
  /** Every redirect was permanent (301/308): the writer should link to the final address. */
  permanent: boolean;
  detail: string;
}

export interface LinkChecker {
  check(url: string): Promise<LinkCheckResult>;
}

/**
 * Sites known to refuse or mislead automated requests (login walls, bot walls): checking them only ever
 * produces false alarms, so they are reported as unchecked without a request.
 */
export const UNCHECKABLE_DOMAINS = ['linkedin.com', 'instagram.com', 'facebook.com', 'x.com', 'twitter.com', 'codepen.io', 'amazon.com'];

const ACCESS_REFUSED = new Set([401, 403, 429, 999]);

export function createLinkChecker(options: { fetch: SafeFetch; limiter?: Limiter; uncheckable?: string[] }): LinkChecker {
  const limiter = options.limiter ?? createLimiter(8, 2);
  const uncheckable = options.uncheckable ?? UNCHECKABLE_DOMAINS;

  const attempt = (url: string, method: 'HEAD' | 'GET') =>
    options.fetch(url, { method, maxBodyBytes: 0, headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } }).catch((err: unknown) => {
      if (err instanceof SafeFetchError) return err;
      throw err;
    });

  return {
    async check(url) {
      let host: string;
      try {
        host = new URL(url).hostname.toLowerCase();
      } catch {
        return result('broken', 'This is not a valid web address.');
      }
      if (uncheckable.some((d) => host === d || host.endsWith(`.${d}`))) {
        return result('refused', `${host} blocks automated checks; open the link yourself to be sure.`);
      }
      return limiter(host, async () => {
        const head = await attempt(url, 'HEAD');
        const retry = head instanceof SafeFetchError ? head.code === 'connection' : head.status >= 400;
        return toResult(retry ? await attempt(url, 'GET') : head);
      });
    },
  };
}

function result(outcome: LinkOutcome, detail: string, extra: Partial<LinkCheckResult> = {}): LinkCheckResult {
  return { outcome, detail, httpStatus: null, finalUrl: null, redirects: 0, permanent: false, ...extra };
}

function toResult(answer: SafeResponse | SafeFetchError): LinkCheckResult {
  if (answer instanceof SafeFetchError) return errorResult(answer);
  const { status, redirects } = answer;
  const extra = { httpStatus: status, redirects: redirects.length, finalUrl: redirects.length > 0 ? answer.url : null };
  if (status >= 200 && status < 300) {
    if (redirects.length === 0) return result('ok', `The page answered ${status}.`, extra);
    const permanent = redirects.every((h) => h.status === 301 || h.status === 308);
    const hops = redirects.length === 1 ? 'one redirect' : `${redirects.length} redirects`;
    const advice = permanent ? ' The move is permanent: link to the final address.' : '';
    return result('redirected', `Ends at ${answer.url} after ${hops}.${advice}`, { ...extra, permanent });
  }
  if (status === 404) return result('broken', 'The page does not exist (404 Not Found).', extra);
  if (status === 410) return result('broken', 'The page has been removed (410 Gone).', extra);
  if (ACCESS_REFUSED.has(status)) return result('refused', `The site turned the check away (${status}); it may work in a browser, so open it yourself.`, extra);
  if (status >= 500) return result('server-error', `The site had an error (${status}); it may be temporary.`, extra);
  return result('failed', `The site answered ${status}.`, extra);
}

function errorResult(err: SafeFetchError): LinkCheckResult {
  const extra = { redirects: err.redirects.length, finalUrl: err.redirects.length > 0 ? err.url : null };
  switch (err.code) {
    case 'unsafe-url':
    case 'unsafe-address':
      return result('unsafe', `${err.message} Readers outside your network cannot open it either.`, extra);
    case 'dns-not-found':
      return result('dns', err.message, extra);
    case 'timeout':
      return result('timeout', 'The site did not answer in time.', extra);
    case 'tls':
      return result('tls', `${err.message} Readers will see a security warning.`, extra);
    case 'redirect-loop':
    case 'too-many-redirects':
    case 'invalid-url':
      return result('broken', err.message, extra);
    default:
      return result('failed', err.message, extra);
  }
}
