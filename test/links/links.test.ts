import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { urlHash } from '../../src/features/links/service.js';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';
import { loopbackResolver } from '../helpers/outgoing.js';
import { makeNewsletter, makePost, postRow } from '../features/posts/factories.js';
import { selfSignedCertificate, startHttpsTarget, startHttpTarget, type TargetServer } from './target-servers.js';

const HOUR = 3_600_000;
const HX = { 'hx-request': 'true' };

/** The state each row of the links table shows, by URL (from the rows' data attributes). */
function rowStates(html: string): Map<string, string> {
  const states = new Map<string, string>();
  for (const m of html.matchAll(/<tr id="link-[0-9a-f]{16}" data-link-state="([a-z-]+)"[\s\S]*?<td class="link-cell">\s*<(?:a href|code)[^>]*>([^<]*)</g)) {
    states.set(m[2]!.replace(/&amp;/g, '&'), m[1]!);
  }
  return states;
}

const rowId = (url: string) => urlHash(url).slice(0, 16);

let web: TargetServer;
let secure: TargetServer;
before(async () => {
  web = await startHttpTarget();
  secure = await startHttpsTarget(selfSignedCertificate(['secure.test']));
});
after(async () => {
  await web.close();
  await secure.close();
});

const site = (path: string) => `http://site.test:${web.port}${path}`;

for (const dialect of DIALECTS) {
  describe(`link checks (${dialect})`, () => {
    let t: TestApp;
    let owner: Agent;
    let newsletterId: number;
    beforeEach(async () => {
      t = await buildTestApp(dialect, { env: { LINK_CHECK_ALLOW_PRIVATE: 'true' }, outgoing: { resolve: loopbackResolver(), timeoutMs: 2000 } });
      owner = await setupOwner(t);
      newsletterId = (await makeNewsletter(t)).id;
      web.requests.length = 0;
      secure.requests.length = 0;
    });
    afterEach(() => t.close());

    const everyOutcome = () =>
      [
        `[fine](${site('/ok')}) and [again](${site('/ok')})`,
        `[no head](${site('/no-head')}) [missing](${site('/missing')}) [gone](${site('/gone')}) [down](${site('/error')})`,
        `[wall](${site('/bot-wall')}) [busy](${site('/rate-limited')}) [moved](${site('/moved')}) [chain](${site('/chain/3')})`,
        `[loop](${site('/loop-a')}) [slow](${site('/slow')}) [nowhere](https://nowhere.example/) [tls](https://secure.test:${secure.port}/ok)`,
        `[metadata](http://169.254.169.254/latest/meta-data/) [linkedin](https://www.linkedin.com/in/someone)`,
        `![A chart](${site('/ok?image')})`,
        '[mail me](mailto:olive@example.com) [bad mail](mailto:not-an-address) [relative](/about)',
        '[leave]({{ unsubscribe_url }}) [personal](https://example.com/?e={{ subscriber.email }})',
      ].join('\n\n');

    it('checks every link of the draft without JavaScript and shows a finished table with an outcome per link', async () => {
      const postId = await makePost(t, newsletterId, { body: everyOutcome() });
      const start = await owner.post(`/admin/posts/${postId}/links/check`);
      assert.equal(start.statusCode, 303);
      assert.equal(start.headers.location, `/admin/posts/${postId}/links?checked=1`);
      const page = await owner.get(String(start.headers.location));
      assert.equal(page.statusCode, 200);
      const states = rowStates(page.body);
      const expected: Record<string, string> = {
        [site('/ok')]: 'ok',
        [site('/no-head')]: 'ok',
        [site('/missing')]: 'broken',
        [site('/gone')]: 'broken',
        [site('/error')]: 'server-error',
        [site('/bot-wall')]: 'refused',
        [site('/rate-limited')]: 'refused',
        [site('/moved')]: 'redirected',
        [site('/chain/3')]: 'redirected',
        [site('/loop-a')]: 'broken',
        [site('/slow')]: 'timeout',
        'https://nowhere.example/': 'dns',
        [`https://secure.test:${secure.port}/ok`]: 'tls',
        'http://169.254.169.254/latest/meta-data/': 'unsafe',
        'https://www.linkedin.com/in/someone': 'refused',
        [site('/ok?image')]: 'ok',
        'mailto:olive@example.com': 'contact',
        'mailto:not-an-address': 'invalid',
        '/about': 'invalid',
        '{{ unsubscribe_url }}': 'personal',
        'https://example.com/?e={{ subscriber.email }}': 'personal',
        '{{ web_url }}': 'personal',
        '{{ preferences_url }}': 'personal',
      };
      for (const [url, state] of Object.entries(expected)) assert.equal(states.get(url), state, `${url}: ${states.get(url)}`);
      assert.equal(states.size, Object.keys(expected).length, 'each distinct link once');
      assert.match(page.body, /Ends at http:\/\/site\.test:\d+\/final after 3 redirects\. The move is permanent/);
      assert.match(page.body, /The page does not exist \(404 Not Found\)/);

      const log = web.requests.map((r) => `${r.method} ${r.path}`);
      assert.equal(log.filter((l) => l === 'HEAD /ok').length, 2, 'the duplicate link is fetched once (plus the image)');
      assert.deepEqual(log.filter((l) => l.endsWith('/no-head')), ['HEAD /no-head', 'GET /no-head'], 'HEAD, then GET when HEAD is refused');
      assert.ok(log.every((l) => !l.includes('example.com')));
      assert.ok(web.requests.every((r) => r.userAgent === 'GazetteLinkCheck/1 (+http://gazette.test)'), 'an honest User-Agent');
      assert.equal(secure.requests.length, 0, 'the TLS handshake failed before any request');
    });

    it('keeps results for a while, checks again on demand, and again once they expire', async () => {
      const postId = await makePost(t, newsletterId, { body: `[fine](${site('/ok')}) [missing](${site('/missing')})` });
      await owner.post(`/admin/posts/${postId}/links/check`);
      const first = web.requests.length;
      assert.ok(first >= 2);

      await owner.post(`/admin/posts/${postId}/links/check`);
      assert.equal(web.requests.length, first, 'fresh results are not fetched again');

      await owner.post(`/admin/posts/${postId}/links/check`, { fresh: '1' });
      assert.ok(web.requests.length > first, '"Check all again" fetches again');

      const again = web.requests.length;
      t.clock.advance(11 * 60_000);
      await owner.post(`/admin/posts/${postId}/links/check`);
      assert.deepEqual(web.requests.slice(again).map((r) => r.path), ['/missing', '/missing'], 'a failure is kept 10 minutes, a success an hour');
      t.clock.advance(HOUR);
      const page = await owner.get(`/admin/posts/${postId}/links`);
      assert.match(page.body, /2 not checked yet/);
    });

    it('forgets results a month after they expired, in a job', async () => {
      const postId = await makePost(t, newsletterId, { body: `[missing](${site('/missing')})` });
      await owner.post(`/admin/posts/${postId}/links/check`);
      const count = async () => (await t.db.db.selectFrom('link_checks').select('url').execute()).length;
      assert.equal(await count(), 1);
      t.clock.advance(29 * 24 * HOUR);
      await t.jobs.runOnce('link-checks-prune');
      assert.equal(await count(), 1, 'an expired result still feeds the pre-send warning');
      t.clock.advance(2 * 24 * HOUR);
      assert.equal((await t.jobs.runOnce('link-checks-prune')).outcome, 'ok');
      assert.equal(await count(), 0);
    });

    it('checks the links of posts going out within a day again, in a job', async () => {
      const soon = await makePost(t, newsletterId, { status: 'scheduled', scheduled_at: t.clock.now() + 2 * HOUR, body: `[missing](${site('/missing')})` });
      await makePost(t, newsletterId, { status: 'scheduled', scheduled_at: t.clock.now() + 72 * HOUR, body: `[later](${site('/gone')})` });
      await makePost(t, newsletterId, { body: `[draft](${site('/error')})` });
      assert.equal((await t.jobs.runOnce('link-recheck')).outcome, 'ok');
      assert.deepEqual(web.requests.map((r) => r.path), ['/missing', '/missing'], 'only the post going out soon');
      const confirm = await owner.get(`/admin/posts/${soon}/send`);
      assert.match(confirm.body, /The last link check found “http:\/\/site\.test:\d+\/missing” broken/);
      await t.jobs.runOnce('link-recheck');
      assert.equal(web.requests.length, 2, 'fresh results are not fetched again');
      const runs = await t.db.db.selectFrom('job_runs').select('status').where('job', '=', 'link-recheck').execute();
      assert.ok(runs.length >= 1);
    });

    it('fills results in one row at a time with htmx', async () => {
      const postId = await makePost(t, newsletterId, { body: `[fine](${site('/ok')}) [missing](${site('/missing')}) [mail](mailto:olive@example.com)` });
      const table = await owner.post(`/admin/posts/${postId}/links/check`, {}, HX);
      assert.equal(table.statusCode, 200);
      assert.doesNotMatch(table.body, /<html/, 'just the table');
      assert.equal(web.requests.length, 0, 'the table answers at once; the rows do the checking');
      const loading = [...table.body.matchAll(/<tr id="link-([0-9a-f]{16})" data-link-state="checking"[^>]*hx-post="([^"]+)" hx-trigger="load" hx-swap="outerHTML"/g)];
      assert.deepEqual(loading.map((m) => m[1]).sort(), [rowId(site('/ok')), rowId(site('/missing'))].sort());
      assert.equal(rowStates(table.body).get('mailto:olive@example.com'), 'contact');

      const row = await owner.post(loading.find((m) => m[1] === rowId(site('/missing')))![2]!, {}, HX);
      assert.equal(row.statusCode, 200);
      assert.match(row.body, /^\s*<tr id="link-[0-9a-f]{16}" data-link-state="broken" class="sev-error">/);
      assert.match(row.body, /<p id="links-summary" class="links-summary" role="status" hx-swap-oob="true">\s*6 links\.\s*<strong class="sev-error">1 will not work\.<\/strong>\s*1 not checked yet\./, 'the summary follows, out of band');
      assert.deepEqual(web.requests.map((r) => r.path), ['/missing', '/missing']);

      const unknown = await owner.post(`/admin/posts/${postId}/links/${'0'.repeat(16)}/check`, {}, HX);
      assert.equal(unknown.statusCode, 404);
      const malformed = await owner.post(`/admin/posts/${postId}/links/not-a-link/check`, {}, HX);
      assert.equal(malformed.statusCode, 404);
    });

    it('replaces a redirected link with its final address in the Markdown', async () => {
      const postId = await makePost(t, newsletterId, { body: `Read [this](${site('/moved')}) and ${site('/moved')} again.` });
      await owner.post(`/admin/posts/${postId}/links/check`);
      const page = await owner.get(`/admin/posts/${postId}/links`);
      assert.match(page.body, /Use the final URL/);
      const res = await owner.post(`/admin/posts/${postId}/links/${rowId(site('/moved'))}/use-final`);
      assert.equal(res.statusCode, 303);
      assert.equal((await postRow(t, postId)).body, `Read [this](${site('/final')}) and ${site('/final')} again.`);
      const refused = await owner.post(`/admin/posts/${postId}/links/${rowId(site('/final'))}/use-final`);
      assert.equal(refused.statusCode, 409, 'a link that is not redirected has no final address');
    });

    it('warns before sending when the last check found broken links', async () => {
      const postId = await makePost(t, newsletterId, { subject: 'Hello', body: `[missing](${site('/missing')}) [fine](${site('/ok')})` });
      const before = await owner.get(`/admin/posts/${postId}/send`);
      assert.doesNotMatch(before.body, /The last link check found/);
      await owner.post(`/admin/posts/${postId}/links/check`);
      const confirm = await owner.get(`/admin/posts/${postId}/send`);
      assert.match(confirm.body, /The last link check found “http:\/\/site\.test:\d+\/missing” broken: The page does not exist/);
      assert.match(confirm.body, /<div class="alert error" role="alert">Readers will not be able to open some links/);
      assert.match(confirm.body, /Send anyway to 0 subscribers now<\/button>/, 'a warning, not a block');
      assert.match(before.body, /Send to 0 subscribers now<\/button>/);
      const postPage = await owner.get(`/admin/posts/${postId}`);
      assert.match(postPage.body, /The last link check found/);
      assert.match(postPage.body, /id="links-panel"/);
    });
  });
}

describe('link checks without the private-network setting', () => {
  let t: TestApp;
  before(async () => (t = await buildTestApp('sqlite', { outgoing: { resolve: loopbackResolver(), timeoutMs: 2000 } })));
  after(() => t.close());

  it('refuses a link whose host resolves to this machine, without connecting', async () => {
    web.requests.length = 0;
    const owner = await setupOwner(t);
    const postId = await makePost(t, (await makeNewsletter(t)).id, { body: `[inside](${site('/ok')}) [literal](http://127.0.0.1:${web.port}/ok) <a href="http://[::ffff:7f00:1]:${web.port}/ok">mapped</a>` });
    await owner.post(`/admin/posts/${postId}/links/check`);
    const states = rowStates((await owner.get(`/admin/posts/${postId}/links`)).body);
    assert.equal(states.get(site('/ok')), 'unsafe');
    assert.equal(states.get(`http://127.0.0.1:${web.port}/ok`), 'unsafe');
    assert.equal(states.get(`http://[::ffff:7f00:1]:${web.port}/ok`), 'unsafe');
    assert.equal(web.requests.length, 0);
  });
});
