import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { buildTestApp, setupOwner } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { access, checkout, deliver, paidReader, paidRow, paidSetup, type PaidSetup } from './helpers.js';

/**
 * The Stripe webhook against the official `stripe` client and a fake Stripe on loopback: signatures in
 * Stripe's real scheme, duplicates, reordering, unknown events, and the checkout flow that only the
 * webhook completes.
 */
for (const dialect of DIALECTS) {
  describe(`Stripe webhook and checkout (${dialect})`, () => {
    let s: PaidSetup;
    afterEach(async () => s?.close());

    it('creates the price in Stripe, sends the reader to Checkout and subscribes them only when the webhook says so', async () => {
      s = await paidSetup(dialect);
      const prices = [...s.stripe.prices.values()].map((p) => [p.unit_amount, p.currency, p.recurring.interval]);
      assert.deepEqual(prices, [[500, 'eur', 'month'], [5000, 'eur', 'year']]);
      const home = await s.t.agent().get(`/n/${s.newsletter.slug}`);
      assert.match(home.body, /Paid subscription/);
      assert.match(home.body, /€5\.00 a month/);

      const { reader, sessionId } = await checkout(s, 'Payer@Example.com', 'yearly');
      const session = s.stripe.sessions.get(sessionId)!;
      assert.equal(session.mode, 'subscription');
      assert.equal(session.customer_email, 'Payer@Example.com');
      assert.equal(session.subscription_data.metadata.gazette_newsletter, String(s.newsletter.id));
      // The return page grants nothing.
      const thanks = await reader.get(`/n/${s.newsletter.slug}/paid/thanks`);
      assert.equal(thanks.statusCode, 200);
      assert.equal(await s.t.db.db.selectFrom('paid_subscriptions').select('id').executeTakeFirst(), undefined);
      assert.equal(await access(s, 'payer@example.com'), undefined);

      const { subscription, events } = s.stripe.completeCheckout(sessionId);
      // checkout.session.completed first: Gazette re-reads the subscription from Stripe.
      const completed = events.find((e) => e.type === 'checkout.session.completed')!;
      assert.equal((await deliver(s, completed)).statusCode, 200);
      assert.ok(s.stripe.requests.some((r) => r.method === 'GET' && r.path === `/v1/subscriptions/${subscription.id}`));
      const row = await paidRow(s, subscription.id);
      assert.equal(row?.status, 'active');
      assert.equal(row?.plan, 'yearly');
      assert.equal(row?.amount, 5000);
      assert.deepEqual(await access(s, 'payer@example.com').then((a) => [a?.status, a?.paid_access]), ['active', 1]);
      // The rest of Stripe's events change nothing further.
      for (const e of events) assert.equal((await deliver(s, e)).statusCode, 200);
      assert.equal((await s.t.db.db.selectFrom('paid_subscriptions').select('id').execute()).length, 1);

      // The writer's figures, and the subscriber's billing state linked to the customer in Stripe.
      const plan = await s.admin.get(`/admin/newsletters/${s.newsletter.id}/paid`);
      assert.match(plan.body, /data-figure="paying">1</);
      assert.match(plan.body, /data-figure="mrr">€4\.17</);
      assert.match(plan.body, /TEST MODE/);
      const dashboard = await s.admin.get('/admin');
      assert.match(dashboard.body, /id="paid-figures-heading"/);
      assert.match(dashboard.body, /data-figure="paying">1</);
      assert.match(dashboard.body, /data-figure="paused">0</);
      const billing = await s.admin.get(`/admin/subscribers/${row!.subscriber_id}/billing`);
      assert.equal(billing.statusCode, 200);
      assert.ok(billing.body.includes(`https://dashboard.stripe.com/test/customers/${row!.stripe_customer_id}`));
      assert.match((await s.admin.get(`/admin/subscribers/${row!.subscriber_id}`)).body, /Paid plans and billing/);
    });

    it('lets the writer change a price (a new Stripe price) and choose who receives a post', async () => {
      s = await paidSetup(dialect);
      const before = (await s.t.db.db.selectFrom('paid_plans').selectAll().executeTakeFirstOrThrow());
      await s.admin.get(`/admin/newsletters/${s.newsletter.id}/paid`);
      const bad = await s.admin.post(`/admin/newsletters/${s.newsletter.id}/paid`, { currency: 'euro', monthly: 'five', yearly: '' });
      assert.equal(bad.statusCode, 422);
      assert.match(bad.body, /three-letter currency/);
      assert.equal((await s.admin.post(`/admin/newsletters/${s.newsletter.id}/paid`, { currency: 'eur', monthly: '6', yearly: '50' })).statusCode, 303);
      const after = (await s.t.db.db.selectFrom('paid_plans').selectAll().executeTakeFirstOrThrow());
      assert.notEqual(after.monthly_price_id, before.monthly_price_id);
      assert.equal(after.yearly_price_id, before.yearly_price_id, 'an unchanged amount keeps its price');
      assert.equal(s.stripe.prices.get(after.monthly_price_id!)?.unit_amount, 600);

      const post = await s.t.db.db.insertInto('posts').values({ newsletter_id: s.newsletter.id, slug: 'tiered', subject: 'Tiered', created_at: 1, updated_at: 1 }).returning('id').executeTakeFirstOrThrow();
      const page = await s.admin.get(`/admin/posts/${post.id}`);
      assert.match(page.body, /name="tier"/);
      assert.equal((await s.admin.post(`/admin/posts/${post.id}/tier`, { tier: 'paid' })).statusCode, 303);
      assert.equal((await s.t.db.db.selectFrom('posts').select('audience_tier').where('id', '=', post.id).executeTakeFirstOrThrow()).audience_tier, 'paid');
      assert.equal((await s.admin.post(`/admin/posts/${post.id}/tier`, { tier: 'vip' })).statusCode, 422);
      // A copy goes to the same readers.
      await s.admin.post(`/admin/posts/${post.id}/duplicate`);
      const copy = await s.t.db.db.selectFrom('posts').select('audience_tier').where('id', '<>', post.id).orderBy('id', 'desc').executeTakeFirstOrThrow();
      assert.equal(copy.audience_tier, 'paid');
    });

    it('refuses a bad or missing signature with 400 and changes nothing', async () => {
      s = await paidSetup(dialect);
      const { sessionId } = await checkout(s, 'forger@example.com');
      const { events } = s.stripe.completeCheckout(sessionId);
      const created = events[0]!;
      const wrongSecret = await deliver(s, created, { secret: 'whsec_not_the_right_one' });
      assert.equal(wrongSecret.statusCode, 400);
      const missing = await deliver(s, created, { header: null });
      assert.equal(missing.statusCode, 400);
      const stale = await deliver(s, created, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
      assert.equal(stale.statusCode, 400, 'a signature older than 5 minutes is refused');
      const junk = await s.t.app.inject({ method: 'POST', url: '/webhooks/stripe', payload: 'not json', headers: { 'content-type': 'text/plain', 'stripe-signature': 't=1,v1=00' } });
      assert.equal(junk.statusCode, 400);
      assert.equal((await s.t.db.db.selectFrom('stripe_events').select('id').execute()).length, 0);
      assert.equal((await s.t.db.db.selectFrom('paid_subscriptions').select('id').execute()).length, 0);
    });

    it('acknowledges an unknown event with 200 and processes an event id once', async () => {
      s = await paidSetup(dialect);
      const unknown = s.stripe.event('customer.tax_id.created', { id: 'txi_1', object: 'tax_id' });
      const res = await deliver(s, unknown);
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().outcome, 'ignored');
      assert.equal((await deliver(s, unknown)).json().outcome, 'duplicate');

      const { subscription } = await paidReader(s, 'twice@example.com');
      // The same update delivered twice: applied once; the repeat is a duplicate even after a newer state.
      const sub = s.stripe.subscriptions.get(subscription.id)!;
      s.t.clock.advance(60_000);
      sub.pause_collection = { behavior: 'void', resumes_at: null };
      const paused = s.stripe.event('customer.subscription.updated', sub);
      assert.equal((await deliver(s, paused)).json().outcome, 'applied');
      s.t.clock.advance(60_000);
      sub.pause_collection = null;
      const resumed = s.stripe.event('customer.subscription.updated', sub);
      assert.equal((await deliver(s, resumed)).json().outcome, 'applied');
      assert.equal((await deliver(s, paused)).json().outcome, 'duplicate');
      assert.equal((await paidRow(s, subscription.id))?.status, 'active');
      const ids = await s.t.db.db.selectFrom('stripe_events').select('id').where('id', '=', paused.id).execute();
      assert.equal(ids.length, 1);
    });

    it('decides by the subscription’s own time: an older state arriving late is ignored, and canceled stays canceled', async () => {
      s = await paidSetup(dialect);
      const { subscription } = await paidReader(s, 'late@example.com');
      const sub = s.stripe.subscriptions.get(subscription.id)!;
      s.t.clock.advance(60_000);
      sub.pause_collection = { behavior: 'void', resumes_at: Math.floor(s.t.clock.now() / 1000) + 30 * 86_400 };
      const older = s.stripe.event('customer.subscription.updated', sub);
      s.t.clock.advance(60_000);
      sub.pause_collection = null;
      sub.status = 'canceled';
      sub.canceled_at = Math.floor(s.t.clock.now() / 1000);
      const deleted = s.stripe.event('customer.subscription.deleted', sub);
      // Reversed: the deletion first, then the older pause.
      assert.equal((await deliver(s, deleted)).json().outcome, 'applied');
      assert.equal((await deliver(s, older)).json().outcome, 'stale');
      let row = await paidRow(s, subscription.id);
      assert.equal(row?.status, 'canceled');
      assert.equal(row?.pause_until, null);
      assert.equal((await access(s, 'late@example.com'))?.paid_access, 0);
      const figures = (await s.admin.get(`/admin/newsletters/${s.newsletter.id}/paid`)).body;
      assert.match(figures, /data-figure="churn">1 \(/);
      assert.match(figures, /data-figure="paying">0</);
      // An "active" update within the same second as the deletion cannot bring it back either.
      const revived = s.stripe.event('customer.subscription.updated', { ...sub, status: 'active', canceled_at: null });
      assert.equal((await deliver(s, revived)).json().outcome, 'stale');
      row = await paidRow(s, subscription.id);
      assert.equal(row?.status, 'canceled');
    });

    it('marks a failed payment past due (access kept while Stripe retries) and a later payment active again', async () => {
      s = await paidSetup(dialect);
      const { subscription } = await paidReader(s, 'card@example.com');
      const invoice = { id: 'in_fail', object: 'invoice', parent: { subscription_details: { subscription: subscription.id } } };
      s.t.clock.advance(86_400_000);
      assert.equal((await deliver(s, s.stripe.event('invoice.payment_failed', invoice))).json().outcome, 'applied');
      assert.equal((await paidRow(s, subscription.id))?.status, 'past_due');
      assert.equal((await access(s, 'card@example.com'))?.paid_access, 1);
      await s.t.mailOutbox.runOnce();
      const notices = s.t.mailer.sent.filter((m) => m.to === 'card@example.com' && /did not go through/.test(m.subject));
      assert.equal(notices.length, 1);
      assert.match(notices[0]!.text, /http:\/\/gazette\.test\/preferences\//);
      // The same failure delivered again sends nothing more.
      assert.equal((await deliver(s, s.stripe.event('invoice.payment_failed', invoice))).json().outcome, 'stale');
      s.t.clock.advance(86_400_000);
      assert.equal((await deliver(s, s.stripe.event('invoice.paid', { ...invoice, id: 'in_ok' }))).json().outcome, 'applied');
      assert.equal((await paidRow(s, subscription.id))?.status, 'active');
    });

    it('answers junk on every paid route with a 4xx, never a 5xx', async () => {
      s = await paidSetup(dialect);
      await paidReader(s, 'junk@example.com');
      const token = (await access(s, 'junk@example.com'))!.token;
      const paidId = (await s.t.db.db.selectFrom('paid_subscriptions').select('id').executeTakeFirstOrThrow()).id;
      const junk = ['', 'x'.repeat(5000), '\u0000', '%00', '../../etc', '99999999999', '-1', '1e3', '☃', '{"a":1}'];
      const bodies = [undefined, 'months=7', 'months=%00', 'months[]=1', 'email=%00&plan=weekly', 'tier=vip', 'currency=%00&monthly=-5', 'x'.repeat(3000), '\u0000'];
      const paths = [
        (j: string) => `/n/${encodeURIComponent(j)}/paid`,
        (j: string) => `/n/${encodeURIComponent(j)}/paid/thanks`,
        (j: string) => `/billing/${encodeURIComponent(j)}/${paidId}/pause`,
        (j: string) => `/billing/${token}/${encodeURIComponent(j)}/resume`,
        (j: string) => `/billing/${encodeURIComponent(j)}/${encodeURIComponent(j)}/cancel`,
        (j: string) => `/billing/${token}/${encodeURIComponent(j)}/portal`,
        (j: string) => `/admin/newsletters/${encodeURIComponent(j)}/paid`,
        (j: string) => `/admin/subscribers/${encodeURIComponent(j)}/billing`,
        (j: string) => `/admin/posts/${encodeURIComponent(j)}/tier`,
        () => '/webhooks/stripe',
      ];
      const fives: string[] = [];
      for (const path of paths) {
        for (const j of junk) {
          for (const body of bodies) {
            for (const method of ['GET', 'POST'] as const) {
              const res = method === 'GET' ? await s.admin.get(path(j)) : await s.admin.request('POST', path(j), body, { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://gazette.test', 'sec-fetch-site': 'same-origin' });
              if (res.statusCode >= 500) fives.push(`${res.statusCode} ${method} ${path(j)} ${String(body).slice(0, 40)}`);
            }
          }
        }
      }
      assert.deepEqual(fives, []);
    });

    it('shows nothing paid anywhere without the Stripe secrets', async () => {
      const t = await buildTestApp(dialect);
      try {
        const admin = await setupOwner(t);
        const n = await t.db.db.selectFrom('newsletters').select(['id', 'slug']).executeTakeFirstOrThrow();
        assert.equal((await t.app.inject({ method: 'POST', url: '/webhooks/stripe', payload: '{}', headers: { 'content-type': 'application/json' } })).statusCode, 404);
        assert.equal((await admin.get(`/admin/newsletters/${n.id}/paid`)).statusCode, 404);
        assert.doesNotMatch((await admin.get(`/admin/newsletters/${n.id}`)).body, /Paid plans/);
        assert.doesNotMatch((await admin.get('/admin')).body, /Paid plans/);
        assert.doesNotMatch((await t.agent().get(`/n/${n.slug}`)).body, /Paid subscription/i);
        assert.equal((await t.agent().get(`/n/${n.slug}/paid`)).statusCode, 404);
        assert.equal(t.jobs.jobs().some((j) => j.name === 'billing-restart-reminders'), false);
      } finally {
        await t.close();
      }
    });
  });
}
