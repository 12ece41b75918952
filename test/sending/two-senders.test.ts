import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectDatabase, type DbHandle } from '../../src/db/connect.js';
import { createSendingEngine, type SendingEngine } from '../../src/sending/engine.js';
import { testConfig } from '../helpers/app.js';
import { FakeClock } from '../helpers/clock.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp-server.js';
import { addReaders, makeNewsletter, makePost, statusCounts, testRenderer } from './fixtures.js';

/**
 * Scale-out on Postgres: two senders (each with its own connection pool and SMTP pool, as two Gazette
 * processes would have) work through the same post at the same time. Claims use FOR UPDATE SKIP
 * LOCKED, so they share the work and no recipient is sent twice.
 */

const RECIPIENTS = 400;

describe('two senders on one Postgres database', { skip: !process.env.TEST_DATABASE_URL }, () => {
  let first: TestDb;
  let second: DbHandle;
  let smtp: TestSmtpServer;
  let engines: SendingEngine[];
  const clock = new FakeClock();

  before(async () => {
    first = await createTestDb('postgres');
    second = await connectDatabase({ kind: 'postgres', url: process.env.TEST_DATABASE_URL! }, { searchPath: first.schema! });
    smtp = await startSmtpServer({ parse: false });
    // A little latency per message, so the two senders' claims interleave.
    smtp.respond.onData = () => new Promise((resolve) => setTimeout(() => resolve(undefined), 1));
    const config = testConfig({ SMTP_URL: smtp.url, SMTP_POOL_SIZE: '3' });
    engines = [first, second].map((h) =>
      createSendingEngine({ db: h.db, sendDb: h.sendDb, dialect: 'postgres', config, clock, renderer: testRenderer, options: { claimSize: 4 } }),
    );
  });
  after(async () => {
    for (const e of engines) await e.stop();
    await smtp.close();
    await second.close();
    await first.drop();
  });

  it('shares one send between both, and no recipient gets it twice', async () => {
    const nl = await makeNewsletter(first.db, clock.now());
    const readers = await addReaders(first.db, nl.id, clock.now(), RECIPIENTS);
    const postId = await makePost(first.db, nl.id, clock.now());
    await engines[0]!.startPost(postId);
    await Promise.all(engines.map((e) => e.runOnce()));
    await Promise.all(engines.map((e) => e.runOnce()));

    const perRecipient = new Map<string, number>();
    for (const m of smtp.messages) for (const to of m.envelope.to) perRecipient.set(to, (perRecipient.get(to) ?? 0) + 1);
    const twice = [...perRecipient].filter(([, n]) => n > 1);
    const bySender = await first.db
      .selectFrom('deliveries')
      .select(['claimed_by', (eb) => eb.fn.countAll<number>().as('n')])
      .where('post_id', '=', postId)
      .groupBy('claimed_by')
      .execute();
    console.log(`two senders: ${smtp.messages.length} messages for ${RECIPIENTS} recipients, per sender ${JSON.stringify(bySender.map((r) => Number(r.n)))}`);

    assert.deepEqual(twice, []);
    assert.equal(smtp.messages.length, RECIPIENTS);
    assert.equal(perRecipient.size, RECIPIENTS);
    for (const r of readers) assert.equal(perRecipient.get(r.email), 1);
    assert.deepEqual(await statusCounts(first.db, postId), { sent: RECIPIENTS });
    assert.equal(bySender.length, 2, 'both senders took part');
    assert.ok(bySender.every((r) => Number(r.n) > 0));
    const post = await first.db.selectFrom('posts').select('status').where('id', '=', postId).executeTakeFirstOrThrow();
    assert.equal(post.status, 'sent');
  });

  it('lets exactly one of them start a scheduled post', async () => {
    const nl = await makeNewsletter(first.db, clock.now());
    await addReaders(first.db, nl.id, clock.now(), 20);
    const postId = await makePost(first.db, nl.id, clock.now(), { status: 'scheduled', scheduled_at: clock.now() } as never);
    const before = smtp.messages.length;
    await Promise.all(engines.map((e) => e.runOnce()));
    await Promise.all(engines.map((e) => e.runOnce()));
    assert.equal(smtp.messages.length - before, 20);
    assert.deepEqual(await statusCounts(first.db, postId), { sent: 20 });
  });
});
