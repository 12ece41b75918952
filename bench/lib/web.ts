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

export async function load(
  endpoint: 'subscribe page' | 'subscribe POST' | 'admin subscriber list',
  baseUrl: string,
  options: { condition: WebResult['condition']; seconds: number; cookie?: string; rate?: number; slug: string },
): Promise<WebResult> {
  const common = { connections: 10, duration: options.seconds, ...(options.rate ? { overallRate: options.rate } : {}) };
  const opts: autocannon.Options =
    endpoint === 'subscribe page'
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
  const result = await autocannon(opts);
  return {
    endpoint,
    condition: options.condition,
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}
