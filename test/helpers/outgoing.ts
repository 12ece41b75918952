import type { HostResolver } from '../../src/lib/safe-fetch/safe-fetch.js';

/**
 * Host name lookups for test apps: nothing reaches the internet. Names under `.test` and `localhost`
 * answer 127.0.0.1 (a test's own servers; reachable when LINK_CHECK_ALLOW_PRIVATE is set); every other
 * name does not exist. A test can add its own answers.
 */
export function loopbackResolver(answers: Record<string, string[]> = {}): HostResolver & { lookups: string[] } {
  const lookups: string[] = [];
  const resolve = async (hostname: string) => {
    lookups.push(hostname);
    const own = answers[hostname];
    if (own) return own;
    if (hostname === 'localhost' || hostname.endsWith('.test')) return ['127.0.0.1'];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  };
  return Object.assign(resolve, { lookups });
}
