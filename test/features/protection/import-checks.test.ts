import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { buildTestApp, setupOwner, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { firstNewsletterId, parseCsv, uploadCsv } from '../subscribers/factories.js';
import { STANDARD_ZONES, startDnsServer, type TestDnsServer } from '../validation/dns-server.js';

const BAD: Record<number, string> = {
  100: 'a@nullmx.test',
  200: 'b@nullmx.test',
  300: 'c@nx.test',
  400: 'd@nx.test',
  500: 'e@mailinator.com',
  600: 'f@sub.mailinator.com',
  700: 'g@nomail.test',
  800: 'h@nullmx.test',
  900: 'i@nx.test',
  950: 'j@mailinator.com',
};

for (const dialect of DIALECTS) {
  describe(`import applies the sign-up checks (${dialect})`, () => {
    let dns: TestDnsServer;
    let t: TestApp;
    before(async () => {
      dns = await startDnsServer(STANDARD_ZONES);
    });
    after(() => dns.close());
    afterEach(() => t.close());

    it('1,000 rows with 10 bad addresses: 990 imported, the 10 reported with their reasons, DNS asked once per domain', async () => {
      t = await buildTestApp(dialect, { env: { EMAIL_DNS_CHECK: 'on', EMAIL_DNS_SERVERS: dns.address, EMAIL_DNS_TIMEOUT: '5000' } });
      const agent = await setupOwner(t);
      const newsletter = await firstNewsletterId(t.db.db);
      await agent.get('/admin/subscribers/import');
      const domains = ['good.test', 'aonly.test', 'gmail.com', 'müller.test'];
      const lines = ['email,name'];
      for (let i = 1; i <= 1000; i++) lines.push(`${BAD[i] ?? `reader${i}@${domains[i % domains.length]}`},Reader ${i}`);
      const before = new Map(dns.queries);
      const res = await uploadCsv(agent, { newsletter_id: String(newsletter), mode: 'confirmed', tags: '' }, { filename: 'list.csv', content: lines.join('\n') });
      assert.equal(res.statusCode, 303, res.body.slice(0, 500));
      const publicId = String(res.headers.location).split('/').pop()!;
      await t.app.imports.idle();

      const job = await t.db.db.selectFrom('imports').selectAll().where('public_id', '=', publicId).executeTakeFirstOrThrow();
      assert.equal(job.status, 'done', job.error ?? '');
      assert.equal(job.total_rows, 1000);
      assert.equal(job.invalid_count, 10);
      assert.equal(job.created_count, 990);
      const imported = await t.db.db.selectFrom('subscribers').select('email').where('email', 'like', 'reader%').execute();
      assert.equal(imported.length, 990);
      assert.ok(imported.some((s) => s.email === 'reader3@xn--mller-kva.test'), 'IDN rows stored in ASCII form');

      const report = parseCsv((await agent.get(`/admin/subscribers/import/${publicId}/problems.csv`)).body).slice(1);
      assert.deepEqual(
        report.map((r) => `${r[0]} ${r[1]} ${r[2]}`),
        [
          '101 a@nullmx.test the domain does not accept email: not imported',
          '201 b@nullmx.test the domain does not accept email: not imported',
          '301 c@nx.test the domain does not exist: not imported',
          '401 d@nx.test the domain does not exist: not imported',
          '501 e@mailinator.com throwaway (disposable) address: not imported',
          '601 f@sub.mailinator.com throwaway (disposable) address: not imported',
          '701 g@nomail.test the domain does not accept email: not imported',
          '801 h@nullmx.test the domain does not accept email: not imported',
          '901 i@nx.test the domain does not exist: not imported',
          '951 j@mailinator.com throwaway (disposable) address: not imported',
        ],
      );
      for (const name of ['good.test', 'aonly.test', 'nullmx.test', 'nx.test', 'nomail.test', 'xn--mller-kva.test']) {
        assert.equal((dns.queries.get(`${name}/MX`) ?? 0) - (before.get(`${name}/MX`) ?? 0), 1, `${name}: one MX query for the whole file`);
      }
      assert.equal(dns.queryCount('gmail.com'), 0, 'large providers are not looked up');
    });
  });
}
