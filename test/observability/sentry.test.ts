import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadSentry, scrubEvent, type SentryForwarder } from '../../src/features/observability/sentry.js';
import { buildTestApp, setupOwner, type TestApp } from '../helpers/app.js';
import { startFakeSentry, type FakeSentry } from './fake-sentry.js';

/**
 * SENTRY_DSN set: the real SDK sends 5xx requests and failed jobs to a Sentry ingest endpoint (here a fake
 * one on loopback that decodes the envelopes), tagged with the request id, and nothing personal leaves
 * the process. The SQLite app is enough: the database plays no part in what is sent.
 */

const ADDRESS = 'private.person@example.org';
const TOKEN = 'f00dfeedc0ffee0123456789abcdef0123';
const COOKIE = 'gazette_session=sess1on5ecret0123456789abcdefXYZ';
const BEARER = 'Bearer api0key0secret0value0123456789';

describe('errors to Sentry', () => {
  let sentry: FakeSentry;
  let forwarder: SentryForwarder;
  let t: TestApp;
  let failWith: Error | undefined;

  before(async () => {
    sentry = await startFakeSentry();
    forwarder = await loadSentry({ dsn: sentry.dsn, environment: 'test', release: 'gazette@test' });
    t = await buildTestApp('sqlite', {
      sentry: forwarder,
      pingDb: async () => {
        if (failWith) throw failWith;
        return true;
      },
    });
  });
  after(async () => {
    await t.close();
    await sentry.close();
  });

  it('sends a 5xx request with its request id and route, without addresses, tokens, cookies or bodies', async () => {
    failWith = new Error(`unsubscribe of ${ADDRESS} with token ${TOKEN} failed`);
    const res = await t.app.inject({
      method: 'GET',
      url: `/healthz?email=${encodeURIComponent(ADDRESS)}&token=${TOKEN}`,
      headers: { accept: 'application/json', cookie: COOKIE, authorization: BEARER },
    });
    failWith = undefined;
    assert.equal(res.statusCode, 500);
    const requestId = res.json().error.requestId as string;
    await t.observability.errors.flush(5000);

    const events = sentry.events();
    assert.equal(events.length, 1, 'one event');
    const event = events[0]!;
    const tags = event.tags as Record<string, string>;
    assert.deepEqual(
      { request_id: tags.request_id, route: tags.route, method: tags.method, status: tags.status, source: tags.source },
      { request_id: requestId, route: '/healthz', method: 'GET', status: '500', source: 'request' },
    );
    const exception = (event.exception as { values: Array<{ type: string; value: string; stacktrace?: { frames: unknown[] } }> }).values[0]!;
    assert.equal(exception.type, 'Error');
    assert.equal(exception.value, 'unsubscribe of [email] with token [redacted] failed');
    assert.ok((exception.stacktrace?.frames.length ?? 0) > 0, 'the stack trace is kept');
    assert.equal(event.environment, 'test');
    assert.equal(event.release, 'gazette@test');
    assert.equal(event.user, undefined);

    // Whatever the SDK put in, none of it is personal or secret: search every byte that arrived.
    const raw = sentry.envelopes.map((e) => e.raw).join('\n');
    for (const secret of [ADDRESS, encodeURIComponent(ADDRESS), TOKEN, 'sess1on5ecret', 'api0key0secret', 'gazette_session']) {
      assert.ok(!raw.includes(secret), `${secret} was sent to Sentry`);
    }
  });

  it('sends nothing for a 404 or a 422', async () => {
    const before = sentry.envelopes.length;
    const owner = await setupOwner(t);
    assert.equal((await owner.get(`/nothing/here/${ADDRESS}`)).statusCode, 404);
    assert.equal((await owner.post('/admin/settings/password', { current_password: '', new_password: 'x' })).statusCode, 422);
    await t.observability.errors.flush(5000);
    assert.equal(sentry.envelopes.length, before);
  });

  it('sends a failed job, tagged with the job', async () => {
    t.jobs.register({
      name: 'sentry-probe',
      schedule: '0 0 1 1 *',
      description: 'Fails, for the test.',
      run: async () => {
        throw new RangeError(`no mailbox for ${ADDRESS}`);
      },
    });
    await t.jobs.runOnce('sentry-probe');
    await t.observability.errors.flush(5000);
    const event = sentry.events().at(-1)!;
    assert.deepEqual(
      { job: (event.tags as Record<string, string>).job, source: (event.tags as Record<string, string>).source },
      { job: 'sentry-probe', source: 'job' },
    );
    const exception = (event.exception as { values: Array<{ type: string; value: string }> }).values[0]!;
    assert.deepEqual({ type: exception.type, value: exception.value }, { type: 'RangeError', value: 'no mailbox for [email]' });
  });

  it('scrubs an event whatever the SDK adds to it', () => {
    const scrubbed = scrubEvent({
      message: `hello ${ADDRESS}`,
      request: { url: `https://news.example.com/confirm/${TOKEN}?e=${ADDRESS}`, headers: { cookie: COOKIE }, cookies: { a: 'b' }, data: 'body', method: 'POST' },
      user: { email: ADDRESS, ip_address: '203.0.113.9' },
      breadcrumbs: [{ message: ADDRESS }],
      extra: { body: 'x' },
      contexts: { note: { text: `Authorization: ${BEARER}` } },
    });
    assert.deepEqual(scrubbed, {
      message: 'hello [email]',
      request: { url: 'https://news.example.com/confirm/[token]?[query]', method: 'POST' },
      contexts: { note: { text: 'Authorization: Bearer [redacted]' } },
    });
  });
});
