import assert from 'node:assert/strict';
import { TEST_BASE_URL, type Agent, type TestApp } from '../helpers/app.js';
import { lastConfirmPath, subscribeViaForm } from '../features/readers/helpers.js';
import { makeNewsletter, makePost, makeSubscriber, makeTag } from '../features/posts/factories.js';
import { uploadCsv } from '../features/subscribers/factories.js';
import { formsIn, linksIn, patternOf, routesOf, UNSAFE, type HarvestedForm, type RouteInfo } from './app-map.js';
import { Rng } from './malformed.js';

/*
 * The fuzzed app's real rows (made again when a request deletes them), and what the fuzz test learns about
 * its routes by visiting the app's own pages.
 */

/** Query keys handlers read that no page links to (they arrive from redirects and emails). */
const HIDDEN_QUERY_KEYS = ['next', 'n', 'before', 'after', 'saved', 'done', 'tag_name', 'deleted', '_csrf'];

export interface World {
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

export async function seed(t: TestApp, owner: Agent): Promise<World> {
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

export async function keepRowsAlive(t: TestApp, w: World): Promise<void> {
  const post = await t.db.db.selectFrom('posts').select('id').where('id', '=', w.postId).executeTakeFirst();
  const sub = await t.db.db.selectFrom('subscribers').select('id').where('id', '=', w.subscriberId).executeTakeFirst();
  if (!post || !sub) Object.assign(w, await freshRows(t, w.newsletterId, w.tagId));
}

/** The real value of a route parameter, so a request reaches the code behind the lookup. */
export function realParam(route: RouteInfo, name: string, w: World): string {
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
export function plausibleFor(name: string, w: World, rng: Rng): string | undefined {
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

export const plausible = (name: string, w: World, rng: Rng): string => plausibleFor(name, w, rng) ?? 'fuzz';

export interface Knowledge {
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
export async function learn(t: TestApp, owner: Agent, w: World, seed: number): Promise<Knowledge> {
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
  const rng = new Rng(seed);
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
