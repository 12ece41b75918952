import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { saveTrackedLinks } from '../../../src/domain/tracked-links-repository.js';
import { signToken, trackingKey } from '../../../src/domain/tracking.js';
import { createHitRecorder } from '../../../src/features/tracking/recorder.js';
import { TEST_BASE_URL } from '../../helpers/app.js';
import { FakeClock } from '../../helpers/clock.js';
import { createTestDb, DIALECTS } from '../../helpers/db.js';
import { freePort, startGazette, waitHealthy } from '../../helpers/gazette-process.js';
import { makeNewsletter, makePost } from '../../sending/fixtures.js';

/**
 * The hit recorder's promises: memory bounded under a spike (a request that fills the buffer waits for
 * the flush), and nothing lost when the server is stopped with SIGTERM in the middle of one.
 */
for (const dialect of DIALECTS) {
  describe(`hit recorder (${dialect})`, () => {
    it('never holds more than maxPending hits: the request that fills the buffer waits for its flush', async () => {
      const t = await createTestDb(dialect);
      const clock = new FakeClock();
      const recorder = createHitRecorder(t.db, clock, { flushEveryMs: 60_000, maxPending: 5 });
      try {
        const nl = await makeNewsletter(t.db, clock.now(), { tracking_mode: 'aggregate' });
        const postId = await makePost(t.db, nl.id, clock.now());
        let most = 0;
        for (let i = 0; i < 12; i++) {
          await recorder.record({ postId, kind: 'open', linkId: null, deliveryId: null, method: 'GET', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0', ip: '198.51.100.1' });
          most = Math.max(most, recorder.pending());
        }
        assert.ok(most < 5, `held ${most}`);
        assert.equal(Number((await t.db.selectFrom('tracking_hits').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n), 10);
        await recorder.close();
        assert.equal(Number((await t.db.selectFrom('tracking_hits').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n), 12);
      } finally {
        await recorder.close();
        await t.drop();
      }
    });
  });
}

describe('hit recorder in the real server', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('records every click it answered when SIGTERM arrives mid-spike', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'gazette-hits-'));
    dirs.push(dataDir);
    const secret = 's'.repeat(40);
    const file = path.join(dataDir, 'gazette.db');
    const seed = await createTestDb('sqlite', { sqliteFile: file });
    const now = Date.now();
    const nl = await makeNewsletter(seed.db, now, { tracking_mode: 'aggregate' });
    const postId = await makePost(seed.db, nl.id, now, { status: 'sent', started_at: now, sent_at: now });
    const ids = await saveTrackedLinks(seed.db, postId, ['https://example.org/a'], now);
    await seed.drop();
    const token = signToken(trackingKey(secret), 'l', ids.get('https://example.org/a')!);

    const port = await freePort();
    const server = startGazette('server', { DATA_DIR: dataDir, BASE_URL: TEST_BASE_URL, LOG_LEVEL: 'warn', SECRET_KEY: secret, PORT: String(port), HOST: '127.0.0.1' });
    await waitHealthy(server, port);
    let answered = 0;
    let stopped = false;
    const worker = async () => {
      while (!stopped) {
        const res = await fetch(`http://127.0.0.1:${port}/c/${token}`, { redirect: 'manual' }).catch(() => undefined);
        if (!res) break;
        await res.arrayBuffer();
        if (res.status === 302) answered++;
        else break;
        if (answered >= 300 && server.child.signalCode === null && !server.child.killed) server.child.kill('SIGTERM');
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    stopped = true;
    const exit = await server.exited;
    assert.equal(exit.code, 0, server.output().slice(-2000));

    const check = await createTestDb('sqlite', { sqliteFile: file, migrate: false });
    try {
      const rows = await check.db.selectFrom('tracking_hits').select((eb) => eb.fn.countAll().as('n')).where('post_id', '=', postId).executeTakeFirstOrThrow();
      assert.ok(answered >= 300);
      assert.equal(Number(rows.n), answered, 'one hit per redirect answered');
    } finally {
      await check.drop();
    }
  });
});
