import { lookup as dnsLookup } from 'node:dns/promises';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import { outgoingAddressPolicy, type AddressPolicy } from './address-policy.js';

/**
 * The one HTTP client for requests the server makes on someone else's say-so (link checks, webhooks,
 * feeds). A URL is only as safe as the address it finally connects to, so every hop is resolved here,
 * every answer checked against the address policy, and the connection pinned to the checked address
 * (the socket's `lookup` returns it instead of asking DNS again, which a rebinding DNS server would
 * answer differently). Redirects are followed by hand so each one goes through the same checks. Bodies
 * are read up to a small cap and the whole exchange has one deadline.
 */

/** Every address a host name resolves to; throws an error with a `code` (ENOTFOUND, …) when it has none. */
export type HostResolver = (hostname: string) => Promise<string[]>;

export const systemResolver: HostResolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

export type SafeFetchErrorCode =
  | 'invalid-url'
  | 'unsafe-url'
  | 'unsafe-address'
  | 'dns-not-found'
  | 'dns-failed'
  | 'timeout'
  | 'tls'
  | 'connection'
  | 'too-many-redirects'
  | 'redirect-loop';

/** A hop that answered with a redirect. */
export interface Hop {
  url: string;
  status: number;
}

export class SafeFetchError extends Error {
  constructor(
    readonly code: SafeFetchErrorCode,
    message: string,
    /** The URL of the hop that failed. */
    readonly url: string,
    /** The redirects followed before it. */
    readonly redirects: Hop[] = [],
  ) {
    super(message);
    this.name = 'SafeFetchError';
  }
}

export interface SafeFetchOptions {
  userAgent: string;
  resolve?: HostResolver;
  policy?: AddressPolicy;
  /** One deadline for the whole exchange, redirects included (default 5 s). */
  timeoutMs?: number;
  /** Redirects followed before giving up (default 5). */
  maxRedirects?: number;
  /** Response bytes kept; the rest is never read (default 4 KB). */
  maxBodyBytes?: number;
  /** Extra trusted certificate authorities (PEM), added to the system's; for a private CA or a test. */
  ca?: string[];
}

export interface SafeRequest {
  method?: 'GET' | 'HEAD' | 'POST';
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Follow redirects (default true); otherwise a 3xx is returned as the response. */
  followRedirects?: boolean;
  /** Keep at most this many body bytes (default: the client's maxBodyBytes); 0 reads nothing. */
  maxBodyBytes?: number;
}

export interface SafeResponse {
  /** The URL that gave this response (the last hop). */
  url: string;
  status: number;
  headers: IncomingHttpHeaders;
  /** At most maxBodyBytes of the body. */
  body: Buffer;
  truncated: boolean;
  /** The address the final connection went to. */
  address: string;
  redirects: Hop[];
}

export type SafeFetch = (url: string, request?: SafeRequest) => Promise<SafeResponse>;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const TLS_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|ERR_SSL|EPROTO|HOSTNAME_MISMATCH/;
const DNS_NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME']);

export function createSafeFetch(options: SafeFetchOptions): SafeFetch {
  const resolve = options.resolve ?? systemResolver;
  const policy = options.policy ?? outgoingAddressPolicy();
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxRedirects = options.maxRedirects ?? 5;
  // Passing `ca` replaces Node's bundled roots, so they are kept alongside the extra ones.
  const ca = options.ca && options.ca.length > 0 ? [...rootCertificates, ...options.ca] : undefined;

  return async function safeFetch(input, request = {}) {
    const deadline = new Deadline(timeoutMs);
    const redirects: Hop[] = [];
    const seen = new Set<string>();
    let url = parseTarget(input, redirects);
    let method = request.method ?? 'GET';
    let body = request.body;
    try {
      for (;;) {
        seen.add(url.href);
        const address = await checkedAddress(url, resolve, policy, deadline, redirects);
        const response = await exchange(url, address, { method, headers: request.headers, body, ca, userAgent: options.userAgent, maxBodyBytes: request.maxBodyBytes ?? options.maxBodyBytes ?? 4096 }, deadline, redirects);
        const location = response.headers.location;
        if (request.followRedirects === false || !REDIRECTS.has(response.status) || !location) return { ...response, redirects };
        redirects.push({ url: url.href, status: response.status });
        if (redirects.length > maxRedirects) throw new SafeFetchError('too-many-redirects', `More than ${maxRedirects} redirects.`, url.href, redirects);
        const next = parseTarget(location, redirects, url);
        if (seen.has(next.href)) throw new SafeFetchError('redirect-loop', `The redirects go round in a loop (back to ${next.href}).`, url.href, redirects);
        // A 303, or a 301/302 answering a POST, turns the request into a GET without its body, as browsers do.
        if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
        }
        url = next;
      }
    } finally {
      deadline.clear();
    }
  };
}

/** The URL if it is one this client may request: http(s), no credentials. */
function parseTarget(value: string, redirects: Hop[], base?: URL): URL {
  let url: URL;
  try {
    url = new URL(value, base);
  } catch {
    throw new SafeFetchError('invalid-url', base ? `The redirect goes to an address that is not valid: ${value.slice(0, 200)}` : 'Not a valid address.', base?.href ?? value, redirects);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SafeFetchError('unsafe-url', `Only http and https addresses are fetched (not ${url.protocol}).`, url.href, redirects);
  }
  if (url.username || url.password) {
    throw new SafeFetchError('unsafe-url', 'Addresses with a user name or password in them are not fetched.', url.href, redirects);
  }
  return url;
}

/** Resolves the URL's host (an IP literal stands for itself) and checks every answer; returns the one to pin. */
async function checkedAddress(url: URL, resolve: HostResolver, policy: AddressPolicy, deadline: Deadline, redirects: Hop[]): Promise<string> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(host)) {
    addresses = [host];
  } else {
    try {
      addresses = await deadline.race(resolve(host), () => new SafeFetchError('timeout', `Looking up ${host} took too long.`, url.href, redirects));
    } catch (err) {
      if (err instanceof SafeFetchError) throw err;
      const code = (err as { code?: string }).code ?? '';
      if (DNS_NOT_FOUND.has(code)) throw new SafeFetchError('dns-not-found', `The domain ${host} does not exist.`, url.href, redirects);
      throw new SafeFetchError('dns-failed', `The domain ${host} could not be looked up (${code || 'DNS error'}).`, url.href, redirects);
    }
    if (addresses.length === 0) throw new SafeFetchError('dns-not-found', `The domain ${host} has no address.`, url.href, redirects);
  }
  // Every answer is checked, not just the one used: a host that answers with a private address at all is refused.
  for (const address of addresses) {
    const reason = policy.refuse(address);
    if (reason) {
      const named = address === host ? address : `${host} (${address})`;
      throw new SafeFetchError('unsafe-address', `${named} is ${reason}, which Gazette does not connect to.`, url.href, redirects);
    }
  }
  return addresses[0]!;
}

interface ExchangeOptions {
  method: string;
  headers: Record<string, string> | undefined;
  body: string | Buffer | undefined;
  ca: string[] | undefined;
  userAgent: string;
  maxBodyBytes: number;
}

/** One request and response over a connection to `address`, whatever DNS would say about the host now. */
function exchange(url: URL, address: string, o: ExchangeOptions, deadline: Deadline, redirects: Hop[]): Promise<Omit<SafeResponse, 'redirects'>> {
  const family = isIP(address);
  const pinned: LookupFunction = (_hostname, lookupOptions, callback) => {
    if (lookupOptions.all) (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };
  const secure = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const headers: Record<string, string> = {
    'user-agent': o.userAgent,
    accept: '*/*',
    'accept-encoding': 'identity',
    ...o.headers,
    host: url.host,
  };
  if (o.body !== undefined) headers['content-length'] = String(Buffer.byteLength(o.body));
  const requestOptions: https.RequestOptions = {
    protocol: url.protocol,
    host,
    port: url.port || (secure ? 443 : 80),
    path: `${url.pathname}${url.search}`,
    method: o.method,
    headers,
    lookup: pinned,
    agent: false,
    ...(secure ? { servername: isIP(host) ? undefined : host, ...(o.ca ? { ca: o.ca } : {}) } : {}),
  };
  return new Promise((resolvePromise, reject) => {
    const fail = (err: SafeFetchError) => {
      req.destroy();
      reject(err);
    };
    const req = (secure ? https : http).request(requestOptions, (res) => {
      // Read before the body is let go: the socket forgets its peer once destroyed.
      const remote = res.socket?.remoteAddress ?? address;
      readCapped(res, o.method === 'HEAD' ? 0 : o.maxBodyBytes).then(
        ({ body, truncated }) => resolvePromise({ url: url.href, status: res.statusCode ?? 0, headers: res.headers, body, truncated, address: remote }),
        (err: Error) => reject(connectionError(err, url, redirects)),
      );
    });
    deadline.onExpiry(() => fail(new SafeFetchError('timeout', 'No answer in time.', url.href, redirects)));
    req.on('error', (err) => reject(connectionError(err, url, redirects)));
    req.end(o.body);
  });
}

/** Reads up to `max` bytes of a response, then lets the rest go unread. */
function readCapped(res: IncomingMessage, max: number): Promise<{ body: Buffer; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (truncated: boolean) => {
      res.removeAllListeners('data');
      res.destroy();
      resolve({ body: Buffer.concat(chunks).subarray(0, max), truncated });
    };
    if (max === 0) return done(false);
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > max) done(true);
    });
    res.on('end', () => done(false));
    res.on('error', reject);
  });
}

function connectionError(err: Error, url: URL, redirects: Hop[]): SafeFetchError {
  if (err instanceof SafeFetchError) return err;
  const code = (err as { code?: string }).code ?? '';
  if (TLS_ERROR.test(code) || /certificate|ssl|tls/i.test(err.message)) {
    return new SafeFetchError('tls', `The site's certificate could not be trusted (${code || err.message}).`, url.href, redirects);
  }
  return new SafeFetchError('connection', `The connection failed (${code || err.message}).`, url.href, redirects);
}

/** One timer for the whole exchange; each hop registers what to cancel when it fires. */
class Deadline {
  private readonly timer: NodeJS.Timeout;
  private expired = false;
  private listeners: Array<() => void> = [];

  constructor(ms: number) {
    this.timer = setTimeout(() => {
      this.expired = true;
      for (const listener of this.listeners.splice(0)) listener();
    }, ms);
    this.timer.unref();
  }

  onExpiry(listener: () => void): void {
    if (this.expired) listener();
    else this.listeners.push(listener);
  }

  race<T>(work: Promise<T>, error: () => SafeFetchError): Promise<T> {
    return new Promise((resolve, reject) => {
      this.onExpiry(() => reject(error()));
      work.then(resolve, reject);
    });
  }

  clear(): void {
    clearTimeout(this.timer);
    this.listeners = [];
  }
}
