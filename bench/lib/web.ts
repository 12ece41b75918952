import autocannon from 'autocannon';

export interface WebResult {
  endpoint: string;
  condition: 'idle' | 'during send';
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

/** Signs in through the real form and returns the session cookie header. */
export async function signIn(baseUrl: string, email: string, password: string): Promise<string> {
  const res = await fetch(`${baseUrl}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email, password }).toString(),
  });
  const cookie = res.headers.get('set-cookie')?.split(';')[0];
  if (res.status !== 303 || !cookie) throw new Error(`sign-in failed: ${res.status}`);
  return cookie;
}

export async function csrfTokenFrom(baseUrl: string, path: string, cookie: string): Promise<string> {
  const html = await (await fetch(`${baseUrl}${path}`, { headers: { cookie } })).text();
  const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error(`no CSRF token on ${path}`);
  return token;
}

let unique = 0;

/** Not measured at the start of each run: autocannon opens its connections one by one (see load). */
export const WARMUP_MS = 500;

/**
 * Loads one endpoint with autocannon and measures the answers after a warm-up of WARMUP_MS.
 *
 * autocannon starts each first request's clock before that request's connection exists, and opens its
 * connections one after another, 10–20 ms apart on this machine (the server logged them arriving that
 * way even when idle, and answering each in a few ms): the first answer on each connection then
 * "takes" up to 200 ms of the client's own start-up, which at 200 requests/s is the whole p99. So the
 * figures are taken from the answers that arrive after the warm-up, on open connections, and
 * `whenWarm` runs at that moment (the benchmark starts its send there, so the send's first seconds
 * are measured too).
 */
export async function load(
  endpoint: 'subscribe page' | 'subscribe POST' | 'admin subscriber list' | 'click redirect' | 'open pixel',
  baseUrl: string,
  options: {
    condition: WebResult['condition'];
    seconds: number;
    cookie?: string;
    rate?: number;
    slug: string;
    whenWarm?: () => Promise<unknown>;
    /** A GET of this path instead of the endpoint's own request (the tracking URLs). */
    path?: string;
    /** The status every answer should have (counted in non2xx otherwise); default any 2xx. */
    expectStatus?: number;
  },
): Promise<WebResult> {
  const common = { connections: 10, duration: options.seconds + WARMUP_MS / 1000, ...(options.rate ? { overallRate: options.rate } : {}) };
  const opts: autocannon.Options = options.path
    ? { ...common, url: `${baseUrl}${options.path}` }
    : endpoint === 'subscribe page'
      ? { ...common, url: `${baseUrl}/n/${options.slug}` }
      : endpoint === 'admin subscriber list'
        ? { ...common, url: `${baseUrl}/admin/subscribers`, headers: { cookie: options.cookie ?? '' } }
        : {
            ...common,
            url: `${baseUrl}/n/${options.slug}/subscribe`,
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            requests: [
              {
                method: 'POST',
                setupRequest: (req) => ({ ...req, body: `email=load-${process.pid}-${unique++}%40bench.example&name=Load` }),
              },
            ],
          };
  let finished!: (r: { err: unknown; result: autocannon.Result }) => void;
  const done = new Promise<{ err: unknown; result: autocannon.Result }>((resolve) => (finished = resolve));
  const run = autocannon(opts, (err, result) => finished({ err, result }));
  let measuring = false;
  let measuredFrom = 0;
  const latencies: number[] = [];
  let non2xx = 0;
  run.on('response', (_client, statusCode, _bytes, ms) => {
    if (!measuring) return;
    latencies.push(ms);
    if (options.expectStatus !== undefined ? statusCode !== options.expectStatus : statusCode < 200 || statusCode >= 300) non2xx += 1;
  });
  let warm: Promise<unknown> = Promise.resolve();
  let warmFailed: { error: unknown } | undefined;
  const timer = setTimeout(() => {
    measuring = true;
    measuredFrom = performance.now();
    if (options.whenWarm) warm = options.whenWarm().catch((error: unknown) => (warmFailed = { error }));
  }, WARMUP_MS);
  const { err, result } = await done;
  clearTimeout(timer);
  if (err) throw err;
  const measuredMs = performance.now() - measuredFrom;
  await warm;
  if (warmFailed) throw warmFailed.error;
  if (latencies.length === 0) throw new Error(`${endpoint}: no answers after the warm-up`);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)]!);
  return {
    endpoint,
    condition: options.condition,
    requestsPerSecond: Math.round((latencies.length * 1000) / measuredMs),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    non2xx,
    errors: result.errors + result.timeouts,
  };
}
