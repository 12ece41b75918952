import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

/**
 * A Stripe API on loopback, speaking the real shape for the calls Gazette makes: form-encoded bodies with
 * bracketed keys, JSON objects with `id` and `object`, errors as `{ error: { type, message } }`. It keeps
 * its state in memory and records every request, and it builds the events Stripe would send (signed by
 * the test with the real scheme), so a test decides their order: duplicated, reversed, or late.
 * There is no Stripe emulator on the registries; this is the smallest honest stand-in.
 */

type Obj = Record<string, any>;

export interface RecordedRequest {
  method: string;
  path: string;
  params: Obj;
}

export interface FakeStripe {
  /** STRIPE_* variables pointing Gazette here. */
  env: Record<string, string>;
  webhookSecret: string;
  requests: RecordedRequest[];
  products: Map<string, Obj>;
  prices: Map<string, Obj>;
  sessions: Map<string, Obj>;
  subscriptions: Map<string, Obj>;
  /** Events Stripe would have sent after the API calls so far (state changes made through the API). */
  pendingEvents: Obj[];
  /** Completes a checkout session as a paying reader would: customer, subscription and the events Stripe sends. */
  completeCheckout(sessionId: string): { subscription: Obj; events: Obj[] };
  /** An event of `type` about `object` (a copy, as the object was at that moment). */
  event(type: string, object: Obj, createdMs?: number): Obj;
  /** The Stripe-Signature header for `payload`, as Stripe computes it. */
  sign(payload: string, secret?: string, timestamp?: number): string;
  close(): Promise<void>;
}

const id = (prefix: string) => `${prefix}_${randomBytes(8).toString('hex')}`;
const copy = <T>(o: T): T => JSON.parse(JSON.stringify(o)) as T;

/** `a[b][0][c]=1` → `{ a: { b: [{ c: '1' }] } }`, as Stripe reads its form bodies. */
export function parseStripeForm(body: string): Obj {
  const out: Obj = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const path = key.replace(/\]/g, '').split('[');
    let node: Obj = out;
    path.forEach((part, i) => {
      if (i === path.length - 1) node[part] = value;
      else node = node[part] ??= /^\d+$/.test(path[i + 1]!) ? [] : {};
    });
  }
  return out;
}

export async function startFakeStripe(opts: { now: () => number; webhookSecret?: string }): Promise<FakeStripe> {
  const webhookSecret = opts.webhookSecret ?? `whsec_${randomBytes(16).toString('hex')}`;
  const seconds = () => Math.floor(opts.now() / 1000);
  const state = {
    requests: [] as RecordedRequest[],
    products: new Map<string, Obj>(),
    prices: new Map<string, Obj>(),
    customers: new Map<string, Obj>(),
    sessions: new Map<string, Obj>(),
    subscriptions: new Map<string, Obj>(),
    pendingEvents: [] as Obj[],
  };
  const signer = new Stripe('sk_test_signer');

  const event = (type: string, object: Obj, createdMs = opts.now()): Obj => ({
    id: id('evt'),
    object: 'event',
    api_version: '2026-11-18.endive',
    created: Math.floor(createdMs / 1000),
    livemode: false,
    type,
    data: { object: copy(object) },
  });

  const routes: Array<[string, RegExp, (m: RegExpMatchArray, p: Obj) => [number, Obj]]> = [
    ['POST', /^\/v1\/products$/, (_m, p) => store(state.products, { id: id('prod'), object: 'product', active: true, name: p.name, metadata: p.metadata ?? {} })],
    ['POST', /^\/v1\/prices$/, (_m, p) => {
      if (!state.products.has(p.product)) return notFound('product', p.product);
      return store(state.prices, {
        id: id('price'), object: 'price', active: true, product: p.product, currency: p.currency,
        unit_amount: Number(p.unit_amount), recurring: { interval: p.recurring?.interval, interval_count: 1 }, type: 'recurring',
      });
    }],
    ['POST', /^\/v1\/customers$/, (_m, p) => store(state.customers, { id: id('cus'), object: 'customer', email: p.email ?? null, metadata: p.metadata ?? {} })],
    ['POST', /^\/v1\/checkout\/sessions$/, (_m, p) => {
      const price = state.prices.get(p.line_items?.[0]?.price);
      if (!price) return [400, { error: { type: 'invalid_request_error', message: 'No such price', param: 'line_items[0][price]' } }];
      const sid = id('cs_test');
      return store(state.sessions, {
        id: sid, object: 'checkout.session', mode: p.mode, status: 'open', url: `https://checkout.stripe.test/c/pay/${sid}`,
        customer: p.customer ?? null, customer_email: p.customer_email ?? null, client_reference_id: p.client_reference_id ?? null,
        success_url: p.success_url, cancel_url: p.cancel_url, metadata: p.metadata ?? {}, subscription: null,
        line_items: p.line_items, subscription_data: p.subscription_data ?? {},
      });
    }],
    ['POST', /^\/v1\/billing_portal\/sessions$/, (_m, p) => {
      if (!state.customers.has(p.customer)) return notFound('customer', p.customer);
      return [200, { id: id('bps'), object: 'billing_portal.session', customer: p.customer, return_url: p.return_url, url: `https://billing.stripe.test/p/session/${id('test')}` }];
    }],
    ['GET', /^\/v1\/subscriptions\/([\w]+)$/, (m) => found(state.subscriptions.get(m[1]!), 'subscription', m[1]!)],
    ['POST', /^\/v1\/subscriptions\/([\w]+)$/, (m, p) => updateSubscription(m[1]!, p)],
    ['POST', /^\/v1\/subscriptions\/([\w]+)\/pause$/, (m) => setStatus(m[1]!, 'paused', 'customer.subscription.paused')],
    ['POST', /^\/v1\/subscriptions\/([\w]+)\/resume$/, (m) => setStatus(m[1]!, 'active', 'customer.subscription.resumed')],
    ['DELETE', /^\/v1\/subscriptions\/([\w]+)$/, (m) => setStatus(m[1]!, 'canceled', 'customer.subscription.deleted')],
  ];

  function store(map: Map<string, Obj>, o: Obj): [number, Obj] {
    map.set(o.id, o);
    return [200, o];
  }
  function notFound(kind: string, key: unknown): [number, Obj] {
    return [404, { error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such ${kind}: '${String(key)}'` } }];
  }
  function found(o: Obj | undefined, kind: string, key: string): [number, Obj] {
    return o ? [200, o] : notFound(kind, key);
  }

  function updateSubscription(subId: string, p: Obj): [number, Obj] {
    const sub = state.subscriptions.get(subId);
    if (!sub) return notFound('subscription', subId);
    if ('pause_collection' in p) {
      sub.pause_collection = p.pause_collection === '' ? null : { behavior: p.pause_collection.behavior, resumes_at: p.pause_collection.resumes_at ? Number(p.pause_collection.resumes_at) : null };
    }
    if ('cancel_at_period_end' in p) {
      sub.cancel_at_period_end = p.cancel_at_period_end === 'true';
      sub.cancel_at = sub.cancel_at_period_end ? sub.items.data[0].current_period_end : null;
    }
    if (p.metadata) sub.metadata = { ...sub.metadata, ...p.metadata };
    state.pendingEvents.push(event('customer.subscription.updated', sub));
    return [200, sub];
  }

  function setStatus(subId: string, status: string, type: string): [number, Obj] {
    const sub = state.subscriptions.get(subId);
    if (!sub) return notFound('subscription', subId);
    sub.status = status;
    if (status === 'canceled') sub.canceled_at = seconds();
    state.pendingEvents.push(event(type, sub));
    return [200, sub];
  }

  function completeCheckout(sessionId: string): { subscription: Obj; events: Obj[] } {
    const session = state.sessions.get(sessionId);
    if (!session) throw new Error(`no session ${sessionId}`);
    const price = state.prices.get(session.line_items[0].price)!;
    const customer = session.customer ? state.customers.get(session.customer)! : store(state.customers, { id: id('cus'), object: 'customer', email: session.customer_email, metadata: {} })[1];
    const start = seconds();
    const periodEnd = start + (price.recurring.interval === 'year' ? 365 : 30) * 86_400;
    const subscription: Obj = {
      id: id('sub'), object: 'subscription', customer: customer.id, status: 'active', created: start, start_date: start,
      cancel_at_period_end: false, cancel_at: null, canceled_at: null, pause_collection: null,
      metadata: { ...(session.subscription_data.metadata ?? {}) },
      items: { object: 'list', data: [{ id: id('si'), object: 'subscription_item', price, quantity: 1, current_period_start: start, current_period_end: periodEnd }] },
    };
    state.subscriptions.set(subscription.id, subscription);
    Object.assign(session, { status: 'complete', customer: customer.id, subscription: subscription.id, payment_status: 'paid' });
    const invoice = { id: id('in'), object: 'invoice', customer: customer.id, status: 'paid', amount_paid: price.unit_amount, parent: { subscription_details: { subscription: subscription.id } }, lines: { data: [{ period: { start, end: periodEnd } }] } };
    const events = [event('customer.subscription.created', subscription), event('invoice.paid', invoice), event('checkout.session.completed', session)];
    return { subscription, events };
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://fake');
    const raw = Buffer.concat(chunks).toString('utf8');
    const params = parseStripeForm(req.method === 'GET' ? url.search.slice(1) : raw);
    state.requests.push({ method: req.method ?? '', path: url.pathname, params });
    let answer: [number, Obj] = [404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${url.pathname})` } }];
    if (!/^Bearer sk_(test|live)_/.test(req.headers.authorization ?? '')) answer = [401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } }];
    else {
      for (const [method, pattern, fn] of routes) {
        const m = req.method === method ? url.pathname.match(pattern) : null;
        if (m) {
          answer = fn(m, params);
          break;
        }
      }
    }
    res.writeHead(answer[0], { 'content-type': 'application/json', 'request-id': id('req') });
    res.end(JSON.stringify(answer[1]));
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { type: 'api_error', message: String(err) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    env: { STRIPE_SECRET_KEY: 'sk_test_fake123', STRIPE_WEBHOOK_SECRET: webhookSecret, STRIPE_API_BASE: `http://127.0.0.1:${port}` },
    webhookSecret,
    ...state,
    completeCheckout,
    event,
    sign: (payload, secret = webhookSecret, timestamp) => signer.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp ? { timestamp } : {}) }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
