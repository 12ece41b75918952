import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { recordEvent } from '../../src/domain/events.js';
import { suppress } from '../../src/domain/suppressions.js';
import { PROJECT_ROOT } from '../../src/lib/paths.js';
import { buildTestApp, setupOwner, type TestApp } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp-server.js';
import { addReaders, makeNewsletter, makePost, testRenderer } from '../sending/fixtures.js';
import { parsePrometheus, valueOf } from './prometheus-text.js';

/** /metrics: off without METRICS_TOKEN, behind it otherwise, valid text, and counts that follow real work. */

const TOKEN = 'metrics-token-for-the-test-0123';
const EMAIL = /[^\s"@]+@[^\s"@]+\.[a-z]{2,}/i;

async function scrape(t: TestApp) {
  const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  return { text: res.body, ...parsePrometheus(res.body) };
}

for (const dialect of DIALECTS) {
  describe(`/metrics (${dialect})`, () => {
    let smtp: TestSmtpServer;
    let t: TestApp;
    before(async () => {
      smtp = await startSmtpServer();
      t = await buildTestApp(dialect, { renderer: testRenderer, env: { METRICS_TOKEN: TOKEN, SMTP_URL: smtp.url, SMTP_POOL_SIZE: '2' } });
    });
    after(async () => {
      await t.close();
      await smtp.close();
    });

    it('is not there without METRICS_TOKEN', async () => {
      const plain = await buildTestApp(dialect);
      try {
        const res = await plain.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer anything-at-all-here' } });
        assert.equal(res.statusCode, 404);
      } finally {
        await plain.close();
      }
    });

    it('refuses a missing or wrong token with 401', async () => {
      for (const authorization of [undefined, 'Bearer wrong-token-of-some-length', `Basic ${TOKEN}`, TOKEN, `Bearer ${TOKEN}x`]) {
        const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} });
        assert.equal(res.statusCode, 401, String(authorization));
        assert.equal(res.headers['www-authenticate'], 'Bearer realm="metrics"');
        assert.ok(!res.body.includes('gazette_'), 'no metric leaks');
      }
    });

    it('counts a real send through SMTP: sent messages, queue depth, rate', async () => {
      const nl = await makeNewsletter(t.db.db, t.clock.now());
      await addReaders(t.db.db, nl.id, t.clock.now(), 6);
      const postId = await makePost(t.db.db, nl.id, t.clock.now());
      await t.sending.startPost(postId);

      const queued = await scrape(t);
      assert.equal(valueOf(queued.samples, 'gazette_outbox_messages', { state: 'queued' }), 6);
      assert.equal(valueOf(queued.samples, 'gazette_messages_total', { result: 'sent' }), 0);
      assert.equal(valueOf(queued.samples, 'gazette_posts', { status: 'sending' }), 1);

      await t.sending.runOnce();
      assert.equal(smtp.messages.length, 6);
      const sent = await scrape(t);
      assert.equal(valueOf(sent.samples, 'gazette_messages_total', { result: 'sent' }), 6);
      assert.equal(valueOf(sent.samples, 'gazette_messages_total', { result: 'failed' }), 0);
      for (const state of ['queued', 'claimed', 'attempting', 'retry', 'unknown']) {
        assert.equal(valueOf(sent.samples, 'gazette_outbox_messages', { state }), 0, state);
      }
      assert.equal(valueOf(sent.samples, 'gazette_posts', { status: 'sending' }), 0);
      // Six messages within the last minute of the (fake) clock.
      assert.equal(valueOf(sent.samples, 'gazette_messages_per_second'), 6 / 60);
      t.clock.advance(61_000);
      assert.equal(valueOf((await scrape(t)).samples, 'gazette_messages_per_second'), 0);
    });

    it('counts refusals as failed and temporary errors as retries', async () => {
      const nl = await makeNewsletter(t.db.db, t.clock.now(), { slug: 'second' });
      await addReaders(t.db.db, nl.id, t.clock.now(), 4, { prefix: 'second-' });
      const postId = await makePost(t.db.db, nl.id, t.clock.now());
      const before = (await scrape(t)).samples;
      smtp.respond.onRcpt = (address) =>
        address.startsWith('second-0@') ? { code: 550, message: '5.1.1 No such user' } : address.startsWith('second-1@') ? { code: 451, message: '4.3.0 Later' } : undefined;
      try {
        await t.sending.startPost(postId);
        await t.sending.runOnce();
      } finally {
        smtp.respond = {};
      }
      const samples = (await scrape(t)).samples;
      const delta = (result: string) => valueOf(samples, 'gazette_messages_total', { result })! - valueOf(before, 'gazette_messages_total', { result })!;
      assert.deepEqual({ sent: delta('sent'), failed: delta('failed'), retry: delta('retry') }, { sent: 2, failed: 1, retry: 1 });
      assert.equal(valueOf(samples, 'gazette_outbox_messages', { state: 'retry' }), 1);
      // The refused address bounced: the event log and the suppression list say so.
      assert.equal(valueOf(samples, 'gazette_feedback_events_total', { kind: 'bounced' }), 1);
      assert.equal(valueOf(samples, 'gazette_suppressions', { reason: 'bounced' }), 1);
    });

    it('reads complaints from the event log and suppressions', async () => {
      const now = t.clock.now();
      await recordEvent(t.db.db, { type: 'complained', at: now });
      await recordEvent(t.db.db, { type: 'complained', at: now });
      await suppress(t.db.db, 'angry@example.net', 'complained', now, 'feedback loop');
      const samples = (await scrape(t)).samples;
      assert.equal(valueOf(samples, 'gazette_feedback_events_total', { kind: 'complained' }), 2);
      assert.equal(valueOf(samples, 'gazette_suppressions', { reason: 'complained' }), 1);
    });

    it('counts job runs and their durations', async () => {
      t.jobs.register({ name: 'metrics-probe', schedule: '0 0 1 1 *', description: 'A job for the test.', run: async () => t.clock.advance(1500) });
      await t.jobs.runOnce('metrics-probe');
      await t.jobs.runOnce('metrics-probe');
      const samples = (await scrape(t)).samples;
      assert.equal(valueOf(samples, 'gazette_job_runs_total', { name: 'metrics-probe', outcome: 'ok' }), 2);
      assert.equal(valueOf(samples, 'gazette_job_duration_seconds_count', { name: 'metrics-probe' }), 2);
      assert.equal(valueOf(samples, 'gazette_job_duration_seconds_sum', { name: 'metrics-probe' }), 3);
      assert.equal(valueOf(samples, 'gazette_job_duration_seconds_bucket', { name: 'metrics-probe', le: '1' }), 0);
      assert.equal(valueOf(samples, 'gazette_job_duration_seconds_bucket', { name: 'metrics-probe', le: '2.5' }), 2);
    });

    it('labels requests by route template, never by URL, and stays bounded under random URLs', async () => {
      const owner = await setupOwner(t);
      await owner.get('/admin/subscribers?q=someone%40example.com');
      for (let i = 0; i < 1000; i++) {
        const junk = `/${i.toString(36)}-${'x'.repeat(i % 7)}/reader${i}@example.com/${i}`;
        await t.app.inject({ method: i % 3 === 0 ? 'POST' : 'GET', url: junk });
      }
      await t.app.inject({ method: 'GET', url: '/unsubscribe/some-long-token-value-0123456789abcdef' });
      const { samples, text } = await scrape(t);
      const requests = samples.filter((s) => s.name === 'gazette_http_requests_total');
      assert.ok(requests.length < 40, `${requests.length} request series`);
      assert.ok((valueOf(samples, 'gazette_http_requests_total', { route: 'unmatched', method: 'GET', code: '404' }) ?? 0) >= 666);
      assert.equal(valueOf(samples, 'gazette_http_requests_total', { route: '/admin/subscribers', method: 'GET', code: '200' }), 1);
      assert.ok(requests.some((s) => s.labels.route === '/unsubscribe/:token'));
      assert.equal(valueOf(samples, 'gazette_http_request_duration_seconds_count', { route: '/admin/subscribers', method: 'GET' }), 1);
      for (const s of samples) for (const v of Object.values(s.labels)) assert.doesNotMatch(v, EMAIL);
      assert.doesNotMatch(text, /some-long-token|example\.com/);
    });

    it('reports the process: memory, event-loop lag, build info, pool use on Postgres', async () => {
      // Something for the event-loop monitor to see.
      await new Promise((resolve) => setImmediate(resolve));
      const { samples } = await scrape(t);
      assert.ok(valueOf(samples, 'gazette_process_memory_bytes', { kind: 'rss' })! > 10_000_000);
      assert.ok(valueOf(samples, 'gazette_process_memory_bytes', { kind: 'heap_used' })! > 0);
      assert.equal(valueOf(samples, 'gazette_build_info', { db: dialect }), 1);
      assert.ok(samples.some((s) => s.name === 'gazette_event_loop_lag_seconds'));
      if (dialect === 'postgres') {
        assert.equal(valueOf(samples, 'gazette_db_pool_connections', { pool: 'main', state: 'max' }), 10);
        assert.ok(valueOf(samples, 'gazette_db_pool_connections', { pool: 'main', state: 'total' })! >= 1);
      } else {
        assert.equal(samples.filter((s) => s.name === 'gazette_db_pool_connections').length, 0);
      }
    });

    it('serves every metric the sample Grafana dashboard and alerting rules use', async () => {
      const dashboard = readFileSync(path.join(PROJECT_ROOT, 'deploy', 'grafana', 'gazette.json'), 'utf8');
      JSON.parse(dashboard);
      const alerts = readFileSync(path.join(PROJECT_ROOT, 'deploy', 'prometheus', 'gazette-alerts.yml'), 'utf8');
      const names = new Set([...`${dashboard}\n${alerts}`.matchAll(/\b(gazette_[a-z_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, '')));
      assert.ok(names.size >= 10, [...names].join(', '));
      // SQLite has no connection pool to report.
      if (dialect === 'sqlite') names.delete('gazette_db_pool_connections');
      const { types, samples } = await scrape(t);
      for (const name of names) assert.ok(types.has(name), `${name} is served`);
      // Prometheus sets these on every series itself; a metric's own would be renamed exported_job.
      for (const s of samples) for (const reserved of ['job', 'instance']) assert.ok(!(reserved in s.labels), `${s.name} has no ${reserved} label`);
    });
  });
}
