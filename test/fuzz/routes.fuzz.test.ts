import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTestApp, OWNER, setupOwner, TEST_BASE_URL, type Agent, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';
import { lastConfirmPath, subscribeViaForm } from '../features/readers/helpers.js';
import { makeNewsletter, makePost, makeSubscriber, makeTag } from '../features/posts/factories.js';
import { uploadCsv } from '../features/subscribers/factories.js';
import { formsIn, linksIn, patternOf, routesOf, type HarvestedForm, type RouteInfo } from './app-map.js';
import {
  asString,
  BROKEN_JSON,
  brokenMultipart,
  enc,
  jsonBody,
  multipartBody,
  nasty,
  ODD_CONTENT_TYPES,
  Raw,
  Rng,
  urlencoded,
  type Fields,
  type Value,
} from './malformed.js';

/**
 * Sends ~2,000 malformed requests per dialect to every route the app registers, as the signed-in owner and
 * anonymously, and fails on any 5xx, printing the requests that caused them. Most requests are a real,
 * valid request (a form harvested from the app's own pages, real ids and tokens) with one to three things
 * broken, so the bad value gets past the easy checks and reaches the database or a header.
 * FUZZ_SEED and FUZZ_REQUESTS change the run; a failure prints the seed that reproduces it.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 23_2026);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 2000);
/** Query keys handlers read that no page links to (they arrive from redirects and emails). */
const HIDDEN_QUERY_KEYS = ['next', 'n', 'before', 'after', 'saved', 'done', 'tag_name', 'deleted', '_csrf'];
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

interface World {
  newsletterId: number;
  newsletterSlug: string;
  postId: number;
  postSlug: string;
  subscriberId: number;
  subscriberToken: string;
  tagId: number;
  confirmToken: string;
  importId: string;
  outboxId: number;
}

async function seed(t: TestApp, owner: Agent): Promise<World> {
  const newsletter = await makeNewsletter(t);
  const tagId = await makeTag(t, 'vip');
  const defaultSlug = (await t.db.db.selectFrom('newsletters').select('slug').orderBy('id').executeTakeFirstOrThrow()).slug;
  const confirmed = await subscribeViaForm(t, defaultSlug, { email: 'pending@example.com' });
  assert.equal(confirmed.statusCode, 200);
  const upload = await uploadCsv(owner, { newsletter_id: String(newsletter.id), mode: 'confirmed' }, { filename: 'seed.csv', content: 'email,name\nimported@example.com,Imp\n' });
  assert.equal(upload.statusCode, 303, upload.body.slice(0, 300));
  await t.app.imports.idle();
  const raw = 'From: a@example.com\r\nTo: b@example.com\r\nSubject: Kept\r\n\r\nHello\r\n';
  const outbox = await t.db.db
    .insertInto('dev_outbox')
    .values({ message_id: '<kept@example.com>', from_address: 'a@example.com', to_address: 'b@example.com', subject: 'Kept', raw, created_at: t.clock.now() })
    .returning('id')
    .executeTakeFirstOrThrow();
  const world = {
    newsletterId: newsletter.id,
    newsletterSlug: newsletter.slug,
    tagId,
    confirmToken: lastConfirmPath(t).split('/').pop()!,
    importId: String(upload.headers.location).split('/').pop()!,
    outboxId: outbox.id,
  };
  return { ...world, ...(await freshRows(t, world.newsletterId, tagId)) };
}

/** The rows fuzzed requests may delete (a subscriber, a post), made again when they are gone. */
async function freshRows(t: TestApp, newsletterId: number, tagId: number) {
  const postId = await makePost(t, newsletterId);
  const subscriberId = await makeSubscriber(t, newsletterId, { tags: [tagId] });
  const post = await t.db.db.selectFrom('posts').select('slug').where('id', '=', postId).executeTakeFirstOrThrow();
  const sub = await t.db.db.selectFrom('subscribers').select('token').where('id', '=', subscriberId).executeTakeFirstOrThrow();
  return { postId, postSlug: post.slug, subscriberId, subscriberToken: sub.token };
}

async function keepRowsAlive(t: TestApp, w: World): Promise<void> {
  const post = await t.db.db.selectFrom('posts').select('id').where('id', '=', w.postId).executeTakeFirst();
  const sub = await t.db.db.selectFrom('subscribers').select('id').where('id', '=', w.subscriberId).executeTakeFirst();
  if (!post || !sub) Object.assign(w, await freshRows(t, w.newsletterId, w.tagId));
}

/** The real value of a route parameter, so a request reaches the code behind the lookup. */
function realParam(route: RouteInfo, name: string, w: World): string {
  const p = route.path;
  if (name === 'id') {
    if (p.startsWith('/admin/subscribers')) return String(w.subscriberId);
    if (p.startsWith('/admin/posts')) return String(w.postId);
    if (p.startsWith('/admin/newsletters')) return String(w.newsletterId);
    if (p.startsWith('/admin/outbox')) return String(w.outboxId);
  }
  if (name === 'tagId') return String(w.tagId);
  if (name === 'publicId') return w.importId;
  if (name === 'token') return p.startsWith('/confirm') ? w.confirmToken : w.subscriberToken;
  if (name === 'slug') return w.newsletterSlug;
  if (name === 'postSlug') return w.postSlug;
  return '1';
}

/** A valid value for a field or query key of this name, or undefined when any short text will do. */
function plausibleFor(name: string, w: World, rng: Rng): string | undefined {
  const values: Record<string, () => string> = {
    email: () => `fuzz${rng.int(1e6)}@example.com`,
    password: () => 'a fuzzy passphrase',
    name: () => 'Fuzz Reader',
    next: () => '/admin/posts',
    newsletter: () => String(w.newsletterId),
    newsletter_id: () => String(w.newsletterId),
    newsletters: () => String(w.newsletterId),
    tag: () => (rng.chance(0.5) ? 'vip' : String(w.tagId)),
    tag_name: () => 'vip',
    include_tags: () => String(w.tagId),
    exclude_tags: () => String(w.tagId),
    ids: () => String(w.subscriberId),
    n: () => w.newsletterSlug,
    status: () => 'active',
    sort: () => 'email',
    subject: () => 'Hello',
    scheduled_at: () => '2030-01-01T10:00',
    recipients: () => 'fuzz@example.com',
    key: () => 'city',
    value: () => 'Paris',
  };
  return values[name]?.();
}

const plausible = (name: string, w: World, rng: Rng): string => plausibleFor(name, w, rng) ?? 'fuzz';

interface FuzzRequest {
  /** The route pattern this request was built for. */
  route: string;
  as: 'owner' | 'anonymous';
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

interface Knowledge {
  /**
   * Each route with each of its methods (HEAD folded into GET), repeated by how many slots it has to
   * break (parameters, form fields), and shuffled: a form with ten fields gets more requests than a page.
   */
  schedule: Array<{ route: RouteInfo; method: string }>;
  pairs: Array<{ route: RouteInfo; method: string }>;
  forms: Map<RouteInfo, HarvestedForm[]>;
  /** Query keys seen in links, GET forms and redirects to each route. */
  queryKeys: Map<RouteInfo, Set<string>>;
  allQueryKeys: string[];
  fieldNames: string[];
}

/** Visits every GET route as the owner and as a reader, keeping the forms and query keys it finds. */
async function learn(t: TestApp, owner: Agent, w: World): Promise<Knowledge> {
  const routes = routesOf(t.app);
  const forms = new Map<RouteInfo, HarvestedForm[]>();
  const queryKeys = new Map<RouteInfo, Set<string>>();
  const routeOf = (path: string, method: string) => routes.find((r) => r.methods.includes(method) && patternOf(r).test(path));
  const noteUrl = (url: string) => {
    const u = new URL(url, TEST_BASE_URL);
    const route = routeOf(u.pathname, 'GET');
    if (!route) return;
    const keys = queryKeys.get(route) ?? new Set<string>();
    for (const key of u.searchParams.keys()) keys.add(key);
    queryKeys.set(route, keys);
  };
  for (const route of routes.filter((r) => r.methods.includes('GET') && !r.path.includes('*'))) {
    const url = route.path.replace(/:([A-Za-z_]+)/g, (_, name: string) => encodeURIComponent(realParam(route, name, w)));
    for (const agent of [owner, t.agent()]) {
      const res = await agent.get(url);
      assert.ok(res.statusCode < 500, `GET ${url} answered ${res.statusCode} before any fuzzing`);
      if (typeof res.headers.location === 'string') noteUrl(res.headers.location);
      if (!String(res.headers['content-type'] ?? '').startsWith('text/html')) continue;
      for (const link of linksIn(res.body)) noteUrl(link);
      for (const form of formsIn(res.body, url)) {
        const target = routeOf(form.action, 'POST');
        if (target) forms.set(target, [...(forms.get(target) ?? []), form]);
      }
    }
  }
  const fieldNames = [...new Set([...forms.values()].flat().flatMap((f) => f.fields.map(([k]) => k)))];
  assert.ok(forms.size >= 10, `only ${forms.size} routes have a form on some page`);
  const allQueryKeys = [...new Set([...HIDDEN_QUERY_KEYS, ...[...queryKeys.values()].flatMap((k) => [...k])])];
  const pairs = routes.flatMap((route) => route.methods.filter((m) => m !== 'HEAD' || !route.methods.includes('GET')).map((method) => ({ route, method })));
  const rng = new Rng(SEED);
  const schedule = pairs.flatMap((pair) => {
    const form = UNSAFE.has(pair.method) ? forms.get(pair.route)?.[0] : undefined;
    const weight = 2 + pair.route.params.length + (UNSAFE.has(pair.method) ? 2 + (form?.fields.length ?? 1) + (form?.multipart ? 3 : 0) : 0);
    return Array.from({ length: weight }, () => pair);
  });
  for (let i = schedule.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [schedule[i], schedule[j]] = [schedule[j]!, schedule[i]!];
  }
  return { schedule, pairs, forms, queryKeys, allQueryKeys, fieldNames };
}

type Slot = { kind: 'param'; name: string } | { kind: 'query'; key: string } | { kind: 'field'; index: number } | { kind: 'newField' | 'type' | 'header' | 'filename' };

/** What one request breaks: a real request for `route`, with the `broken` slots given `bad` values. */
interface Plan {
  route: RouteInfo;
  method: string;
  as: 'owner' | 'anonymous';
  /** The form whose fields make the body (a real one from a page, when there is one). */
  form?: HarvestedForm;
  broken: Slot[];
  /** The bad value for a slot, given the valid value it replaces. */
  bad: (valid?: string) => Value;
  /** Which way the content type is broken; random when unset. */
  typeVariant?: number;
}

/** Everything of a request that can be broken: path parameters, query keys, a header, form fields, the body's type. */
function slotsOf(k: Knowledge, route: RouteInfo, method: string, form: HarvestedForm | undefined, extraKey?: string): Slot[] {
  const unsafe = UNSAFE.has(method);
  const keys = new Set([...(k.queryKeys.get(route) ?? []), ...(extraKey ? [extraKey] : [])]);
  return [
    ...route.params.map((name): Slot => ({ kind: 'param', name })),
    ...(route.path.includes('*') ? [{ kind: 'param', name: '*' } as Slot] : []),
    ...[...keys].map((key): Slot => ({ kind: 'query', key })),
    { kind: 'header' },
    ...(unsafe ? [...(form?.fields ?? []).map((_, index): Slot => ({ kind: 'field', index })), { kind: 'newField' } as Slot, { kind: 'type' } as Slot] : []),
    ...(form?.multipart ? [{ kind: 'filename' } as Slot] : []),
  ];
}

/** The three values every slot of every route gets once: what Postgres, an int4 column and a header refuse. */
const SWEEP: Array<(valid?: string) => Value> = [(valid) => `${valid ?? ''}\0`, () => '2147483648', (valid) => `${valid ?? ''}→😀`];

/**
 * The systematic part: each slot of each route broken alone with each SWEEP value (as the owner; a broken
 * session cookie as a reader), so no route depends on luck for the commonest faults.
 */
function sweepPlans(k: Knowledge): Plan[] {
  const plans: Plan[] = [];
  for (const { route, method } of k.pairs) {
    const form = UNSAFE.has(method) ? k.forms.get(route)?.[0] : undefined;
    for (const slot of slotsOf(k, route, method, form)) {
      SWEEP.forEach((bad, typeVariant) => {
        const as = slot.kind === 'header' || route.path === '/logout' ? 'anonymous' : 'owner';
        plans.push({ route, method, as, form, broken: [slot], bad, typeVariant });
      });
    }
  }
  return plans;
}

/** The random part: a route weighted by its slots, one to three slots broken with any malformed value. */
function randomPlan(rng: Rng, k: Knowledge, i: number): Plan {
  const unknown = rng.chance(0.02);
  const pair = unknown ? { route: { path: `/${enc(nasty(rng))}/:id`, methods: ['GET'], params: ['id'] }, method: 'GET' } : k.schedule[i % k.schedule.length]!;
  const method = pair.method === 'GET' && rng.chance(0.1) ? 'HEAD' : pair.method;
  const forms = UNSAFE.has(method) ? k.forms.get(pair.route) : undefined;
  const form = forms ? rng.pick(forms) : undefined;
  const slots = slotsOf(k, pair.route, method, form, rng.pick(k.allQueryKeys));
  const count = rng.chance(0.65) ? 1 : rng.chance(0.7) ? 2 : 3;
  // Signing out would end the owner's session for every later request.
  const as = pair.route.path === '/logout' || rng.chance(0.25) ? 'anonymous' : 'owner';
  return { route: pair.route, method, as, form, broken: Array.from({ length: count }, () => rng.pick(slots)), bad: (valid) => nasty(rng, valid) };
}

/** A plausible request for the plan's route (real ids and tokens, its form as rendered), with the plan's slots broken. */
function buildRequest(rng: Rng, k: Knowledge, w: World, owner: Agent, plan: Plan): FuzzRequest {
  const { route, method, as, broken, bad } = plan;
  const unsafe = UNSAFE.has(method);
  const isBroken = (pred: (s: Slot) => boolean) => broken.some(pred);

  const params: Record<string, string> = {};
  for (const name of [...route.params, '*']) {
    const real = name === '*' ? 'app.css' : realParam(route, name, w);
    params[name] = isBroken((s) => s.kind === 'param' && s.name === name) ? enc(bad(real)) : encodeURIComponent(real);
  }
  const path = route.path.replace(/:([A-Za-z_]+)|\*/g, (m, name?: string) => params[name ?? m]!);

  const query: string[] = [];
  for (const key of new Set([...(k.queryKeys.get(route) ?? []), ...broken.flatMap((s) => (s.kind === 'query' ? [s.key] : []))])) {
    const isBad = isBroken((s) => s.kind === 'query' && s.key === key);
    if (!isBad && rng.chance(0.7)) continue;
    const copies = isBad && rng.chance(0.15) ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      const good = plausible(key, w, rng);
      query.push(`${enc(key)}${isBad && rng.chance(0.05) ? '[]' : ''}=${enc(isBad ? bad(good) : good)}`);
    }
  }
  if (isBroken((s) => s.kind === 'query') && rng.chance(0.1)) query.push(enc(rng.pick([new Raw('%zz&&=&='), new Raw('a=%00&a=%ED%A0%80'), new Raw('=&=&')])));
  const url = query.length > 0 ? `${path}?${query.join('&')}` : path;

  const headers: Record<string, string> = {};
  if (rng.chance(0.15)) headers.accept = 'application/json';
  if (rng.chance(0.15)) headers['hx-request'] = 'true';
  if (as === 'owner' && unsafe) {
    headers.origin = TEST_BASE_URL;
    headers['sec-fetch-site'] = 'same-origin';
    headers['x-csrf-token'] = owner.csrfToken ?? '';
  }
  if (isBroken((s) => s.kind === 'header')) {
    const value = enc(bad('gazette'));
    if (as === 'anonymous') headers.cookie = `gazette_session=${rng.chance(0.5) ? `${value}.${value}` : value}`;
    else if (unsafe && rng.chance(0.3)) headers['x-csrf-token'] = value;
    else headers.accept = rng.pick(['application/json', 'text/html, application/json', '*/*', value]);
  }
  if (!unsafe) return { route: route.path, as, method, url, headers };

  const fields: Fields = plan.form
    ? plan.form.fields.map(([name, value]): [string, Value] => [name, value || (plausibleFor(name, w, rng) ?? '')])
    : Array.from({ length: 1 + rng.int(4) }, (): [string, Value] => {
        const name = rng.pick(k.fieldNames);
        return [name, plausible(name, w, rng)];
      });
  // Fields are broken from the last index down, so an added duplicate never shifts a slot still to come.
  for (const slot of [...broken].sort((a, b) => (b.kind === 'field' ? b.index : -1) - (a.kind === 'field' ? a.index : -1))) {
    if (slot.kind === 'field' && fields[slot.index]) {
      const [name, value] = fields[slot.index]!;
      const valid = typeof value === 'string' ? value : undefined;
      if (rng.chance(0.2)) fields.push([name, bad(valid)]);
      else fields[slot.index] = [name, bad(valid)];
    } else if (slot.kind === 'newField') {
      fields.push([rng.chance(0.7) ? rng.pick(k.fieldNames) : asString(bad()), bad()]);
    }
  }
  const badType = isBroken((s) => s.kind === 'type') ? (plan.typeVariant ?? rng.int(6)) : undefined;
  const body = buildBody(rng, fields, plan.form?.multipart === true, badType, isBroken((s) => s.kind === 'filename') ? bad('list.csv') : undefined);
  return { route: route.path, as, method, url, headers: { ...headers, ...(body.contentType ? { 'content-type': body.contentType } : {}) }, payload: body.payload };
}

function buildBody(rng: Rng, fields: Fields, multipart: boolean, badType: number | undefined, badFilename: Value | undefined): { payload: string | Buffer; contentType?: string } {
  if (multipart) {
    const good = multipartBody(fields, { name: badFilename ?? 'list.csv', content: 'email,name\nfuzz@example.com,Fuzz\n' });
    return badType === undefined ? good : brokenMultipart(badType, good);
  }
  switch (badType) {
    case undefined:
      if (rng.chance(0.15)) return { payload: jsonBody(rng, fields), contentType: 'application/json' };
      return { payload: urlencoded(fields), contentType: 'application/x-www-form-urlencoded' };
    case 0:
      return { payload: rng.pick(BROKEN_JSON), contentType: 'application/json' };
    case 1:
      return { payload: urlencoded(fields), contentType: rng.pick(ODD_CONTENT_TYPES) };
    case 2:
      return brokenMultipart(rng.int(6), multipartBody(fields, { name: nasty(rng), content: 'x' }));
    case 3:
      return { payload: '', contentType: rng.pick(['application/json', 'application/x-www-form-urlencoded']) };
    case 4:
      return { payload: enc(rng.pick([new Raw('%zz=%%&=&&a'), new Raw('a=%ED%A0%80&b=%00'), new Raw('a[b]=1&a[c][d]=2')])), contentType: 'application/x-www-form-urlencoded' };
    default:
      return { payload: urlencoded(fields) };
  }
}

function describeRequest(r: FuzzRequest): string {
  const body = r.payload === undefined ? '' : `\n    body: ${JSON.stringify(Buffer.isBuffer(r.payload) ? r.payload.toString('latin1') : r.payload).slice(0, 400)}`;
  return `${r.method} ${r.url.slice(0, 300)}\n    as ${r.as}, headers ${JSON.stringify(r.headers)}${body}`;
}

async function ensureSignedIn(t: TestApp, owner: Agent): Promise<void> {
  if ((await owner.get('/admin')).statusCode === 200) return;
  const res = await owner.post('/login', { email: OWNER.email, password: OWNER.password, _csrf: '' });
  assert.equal(res.statusCode, 303, 'the owner could not sign in again');
  await owner.get('/admin');
  void t;
}

for (const dialect of DIALECTS) {
  describe(`fuzzing every route (${dialect})`, () => {
    it(`answers ${REQUESTS} malformed requests (seed ${SEED}) without a 5xx`, { timeout: 180_000 }, async () => {
      const t = await buildTestApp(dialect);
      try {
        const owner = await setupOwner(t);
        const world = await seed(t, owner);
        const knowledge = await learn(t, owner, world);
        const rng = new Rng(SEED);
        const sweep = sweepPlans(knowledge);
        assert.ok(sweep.length < REQUESTS, `the sweep alone takes ${sweep.length} requests; raise FUZZ_REQUESTS`);
        // The first failure of each kind (status, method, route) is printed in full, the rest counted.
        const failures = new Map<string, { request: FuzzRequest; count: number }>();
        let failed = 0;
        for (let i = 0; i < REQUESTS; i++) {
          if (i % 20 === 0) {
            await keepRowsAlive(t, world);
            await ensureSignedIn(t, owner);
          }
          const request = buildRequest(rng, knowledge, world, owner, sweep[i] ?? randomPlan(rng, knowledge, i));
          const agent = request.as === 'owner' ? owner : t.agent();
          // A response torn down midway (a stream that failed after its headers) is a server error too.
          const status = await agent.request(request.method, request.url, request.payload, request.headers).then(
            (res) => res.statusCode,
            (err: Error) => `${(err as { code?: string }).code ?? err.message}`,
          );
          if (process.env.FUZZ_TRACE && request.route === process.env.FUZZ_TRACE) console.log(status, describeRequest(request));
          if (typeof status === 'string' || status >= 500) {
            failed++;
            const kind = `${status} ${request.method} ${request.route}`;
            const seen = failures.get(kind);
            if (seen) seen.count++;
            else failures.set(kind, { request, count: 1 });
          }
          await t.app.imports.idle();
        }
        const report = [...failures].map(([kind, f]) => `  ${kind} (${f.count}×), e.g. ${describeRequest(f.request)}`).join('\n');
        assert.equal(failed, 0, `${failed} of ${REQUESTS} requests got a 5xx on ${dialect} (FUZZ_SEED=${SEED}):\n${report}`);
      } finally {
        await t.close();
      }
    });
  });
}
