import { TEST_BASE_URL, type Agent } from '../helpers/app.js';
import { UNSAFE, type HarvestedForm, type RouteInfo } from './app-map.js';
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
import { plausible, plausibleFor, realParam, type Knowledge, type World } from './world.js';

/** The fuzz test's requests: which slots of a route to break, and the request that results. */

export interface FuzzRequest {
  /** The route pattern this request was built for. */
  route: string;
  as: 'owner' | 'anonymous';
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

type Slot = { kind: 'param'; name: string } | { kind: 'query'; key: string } | { kind: 'field'; index: number } | { kind: 'newField' | 'type' | 'header' | 'filename' };

/** What one request breaks: a real request for `route`, with the `broken` slots given `bad` values. */
export interface Plan {
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
export function sweepPlans(k: Knowledge): Plan[] {
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
export function randomPlan(rng: Rng, k: Knowledge, i: number): Plan {
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
export function buildRequest(rng: Rng, k: Knowledge, w: World, owner: Agent, plan: Plan): FuzzRequest {
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

export function describeRequest(r: FuzzRequest): string {
  const body = r.payload === undefined ? '' : `\n    body: ${JSON.stringify(Buffer.isBuffer(r.payload) ? r.payload.toString('latin1') : r.payload).slice(0, 400)}`;
  return `${r.method} ${r.url.slice(0, 300)}\n    as ${r.as}, headers ${JSON.stringify(r.headers)}${body}`;
}
