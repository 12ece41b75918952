import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { createObservability } from '../../src/features/observability/observability.js';
import { formatPretty, loggerSettings } from '../../src/lib/logging.js';
import observabilityPlugin from '../../src/plugins/observability.js';
import { FakeClock } from '../helpers/clock.js';
import { createTestDb } from '../helpers/db.js';

/**
 * Log lines: JSON, one per line, each line written while serving a request carries its id, whichever
 * logger wrote it (Fastify's request logger, or the root logger a service or the engine holds); and
 * LOG_FORMAT=pretty turns them into short text lines.
 */

async function appLogging(format: 'json' | 'pretty') {
  const lines: string[] = [];
  const db = await createTestDb('sqlite');
  const observability = createObservability({ db: db.db, dialect: 'sqlite', clock: new FakeClock() });
  const app = Fastify({ logger: loggerSettings({ level: 'info', format, out: { write: (l) => void lines.push(l) } }), genReqId: () => 'req0abc' });
  await app.register(observabilityPlugin, { observability });
  // Like a service: it holds the root logger, not the request's, and logs after awaits and timers.
  const service = {
    async work(note: string) {
      app.log.info({ note }, 'service step one');
      await new Promise((resolve) => setTimeout(resolve, 1));
      await db.db.selectFrom('settings').selectAll().execute();
      app.log.warn('service step two');
    },
  };
  app.post('/work', async (request) => {
    await service.work((request.body as { note: string }).note);
    request.log.info('handler done');
    return { ok: true };
  });
  app.get('/login', async (request) => ({ url: request.url }));
  // As the app's error plugin does: Fastify's default one logs the URL.
  app.setNotFoundHandler(async (_request, reply) => reply.code(404).send({ error: 'not found' }));
  await app.ready();
  return {
    app,
    lines,
    async close() {
      await app.close();
      observability.close();
      await db.drop();
    },
  };
}

describe('log lines', () => {
  it('are JSON with the request id on every line of the request, from any logger', async () => {
    const t = await appLogging('json');
    try {
      const res = await t.app.inject({ method: 'POST', url: '/work', payload: { note: 'hello' } });
      assert.equal(res.statusCode, 200);
      t.app.log.info('not part of a request');
      const entries = t.lines.flatMap((chunk) => chunk.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as Record<string, unknown>);
      const messages = entries.map((e) => e.msg);
      assert.deepEqual(messages, ['incoming request', 'service step one', 'service step two', 'handler done', 'request completed', 'not part of a request']);
      for (const e of entries.slice(0, 5)) assert.equal(e.reqId, 'req0abc', `${e.msg} carries the request id`);
      assert.equal(entries[5]!.reqId, undefined);
      // The request logger's own binding is not doubled by the context's.
      for (const chunk of t.lines) assert.ok((chunk.match(/"reqId"/g) ?? []).length <= 1, chunk);
    } finally {
      await t.close();
    }
  });

  it('leave tokens and query strings out of the logged URL', async () => {
    const t = await appLogging('json');
    try {
      await t.app.inject({ method: 'GET', url: '/login?next=%2Fadmin&email=someone%40example.com' });
      await t.app.inject({ method: 'GET', url: '/unsubscribe/9f8e7d6c5b4a39281706f5e4d3c2b1a0' });
      const text = t.lines.join('');
      assert.doesNotMatch(text, /someone|example\.com|9f8e7d6c5b4a/);
      assert.match(text, /"url":"\/login\?\[query\]"/);
      assert.match(text, /"url":"\/unsubscribe\/\[token\]"/);
    } finally {
      await t.close();
    }
  });

  it('are short text lines with LOG_FORMAT=pretty', async () => {
    const t = await appLogging('pretty');
    try {
      await t.app.inject({ method: 'POST', url: '/work', payload: { note: 'two words' } });
      const text = t.lines.join('');
      assert.match(text, /^\d\d:\d\d:\d\d\.\d{3} INFO  \[req0abc\] service step one note="two words"$/m);
      assert.match(text, /^\d\d:\d\d:\d\d\.\d{3} WARN  \[req0abc\] service step two$/m);
      assert.doesNotMatch(text, /^\{/m, 'no JSON line');
    } finally {
      await t.close();
    }
  });

  it('print an error with its stack under the line', () => {
    const line = JSON.stringify({ level: 50, time: Date.UTC(2026, 0, 2, 3, 4, 5, 6), msg: 'job failed', job: 'x', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at run (job.ts:1:1)' } });
    assert.equal(formatPretty(line), '03:04:05.006 ERROR job failed job=x\n  Error: boom\n      at run (job.ts:1:1)\n');
    assert.equal(formatPretty('not json'), 'not json\n');
  });
});
