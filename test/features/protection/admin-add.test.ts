import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { firstNewsletterId } from '../subscribers/factories.js';
import { STANDARD_ZONES, startDnsServer, type TestDnsServer } from '../validation/dns-server.js';

/** The messages a re-rendered form shows, for a failure's explanation. */
const errorText = (body: string) => [...body.matchAll(/class="error"[^>]*>([^<]*)</g)].map((m) => m[1]).join(' / ');

for (const dialect of DIALECTS) {
  describe(`adding a subscriber by hand applies the checks (${dialect})`, () => {
    let dns: TestDnsServer;
    let t: TestApp;
    before(async () => {
      dns = await startDnsServer({ ...STANDARD_ZONES, 'gnail.com': { mx: [{ priority: 10, exchange: 'mx.gnail.com' }] } });
    });
    after(() => dns.close());
    afterEach(() => t.close());

    it('questions a typo (the writer may keep it), refuses a domain without mail, stores IDN in ASCII form', async () => {
      t = await buildTestApp(dialect, { env: { EMAIL_DNS_CHECK: 'on', EMAIL_DNS_SERVERS: dns.address, EMAIL_DNS_TIMEOUT: '5000' } });
      const admin = await setupOwner(t);
      const newsletter = String(await firstNewsletterId(t.db.db));
      await admin.get('/admin/subscribers/new');
      const form = (email: string, extra: Record<string, string> = {}) => admin.post('/admin/subscribers', { email, name: '', newsletter_id: newsletter, status: 'active', ...extra });

      const typo = await form('ann@gnail.com');
      assert.equal(typo.statusCode, 422);
      assert.match(typo.body, /Did you mean ann@gmail.com\?/);
      assert.match(typo.body, /name="accept_typo" value="1"/);
      const kept = await form('ann@gnail.com', { accept_typo: '1' });
      assert.equal(kept.statusCode, 303, errorText(kept.body));

      const nullMx = await form('bob@nullmx.test');
      assert.equal(nullMx.statusCode, 422);
      assert.match(nullMx.body, /nullmx.test does not accept email/);
      assert.match((await form('cy@mailinator.com')).body, /throwaway addresses/);

      const idn = await form('dora@müller.test');
      assert.equal(idn.statusCode, 303, errorText(idn.body));
      const rows = await t.db.db.selectFrom('subscribers').select('email').orderBy('id').execute();
      assert.deepEqual(rows.map((r) => r.email).filter((e) => e !== 'olive@example.com'), ['ann@gnail.com', 'dora@xn--mller-kva.test']);
    });
  });
}
